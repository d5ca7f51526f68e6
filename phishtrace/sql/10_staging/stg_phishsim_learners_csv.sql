-- PhishSim learner list: which learners are flagged bounced (latest load wins per learner)
SELECT customer, load_id, source_row, pt_norm_addr(email) AS recipient,
       bounced_flag AS learner_bounced, bounced_at_ts AS bounced_at, bounce_reason
FROM raw_phishsim_learners_csv
QUALIFY row_number() OVER (PARTITION BY customer, pt_norm_addr(email) ORDER BY load_id DESC, source_row DESC) = 1
