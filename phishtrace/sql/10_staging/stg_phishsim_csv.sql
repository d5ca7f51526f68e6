-- PhishSim campaign export -> platform message rows (docs/architecture.md, platform staging views)
SELECT customer, load_id, 'phishsim_csv' AS source_format, source_row,
       campaign, campaign_run AS run,
       run_start_ts AS run_start, run_end_ts AS run_end,
       pt_norm_addr(email) AS recipient, first_name, last_name,
       CASE lower(status)
           WHEN 'phished' THEN 'clicked'
           WHEN 'entered data' THEN 'entered_data'
           ELSE lower(status) END AS status,
       status AS platform_status,
       scheduled_at_ts AS scheduled_at, sent_at_ts AS sent_at, delivered_at_ts AS delivered_at,
       bounced_at_ts AS bounced_at, bounce_reason,
       pt_norm_addr(sender) AS sender, subject, pt_norm_msgid(message_id) AS message_id,
       CAST(NULL AS VARCHAR) AS token, CAST(NULL AS BOOLEAN) AS learner_bounced
FROM raw_phishsim_csv
