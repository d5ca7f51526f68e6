-- One row per customer x campaign x run x recipient from the platform hop (the latest load of a row wins),
-- with the learner's bounced flag and the time the message left the platform.
WITH rows AS (
    SELECT *
    FROM int_platform_messages
    WHERE recipient IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY customer, campaign, run, recipient
                               ORDER BY load_id DESC, source_row DESC) = 1
)
SELECT md5(concat_ws('|', r.customer, r.campaign, r.run, r.recipient)) AS message_key,
       r.customer, r.source_format, r.load_id, r.source_row, r.campaign, r.run, r.run_start, r.run_end,
       r.recipient, r.first_name, r.last_name, r.status, r.platform_status,
       r.scheduled_at, r.sent_at, r.delivered_at, r.bounced_at, r.bounce_reason,
       r.sender, r.subject, r.message_id, r.token,
       coalesce(r.learner_bounced, l.learner_bounced, false) AS learner_bounced,
       l.bounce_reason AS learner_bounce_reason,
       coalesce(r.sent_at, r.delivered_at) AS sent_ts
FROM rows r
LEFT JOIN stg_phishsim_learners_csv l ON l.customer = r.customer AND l.recipient = r.recipient
