-- PhishSim export timestamps of interactions: opened, phished (clicked), replied, entered data, reported
SELECT customer, load_id, 'phishsim_csv' AS source_format, source_row, campaign, campaign_run AS run,
       pt_norm_addr(email) AS recipient, kind, event_ts,
       CAST(NULL AS VARCHAR) AS client_ip, CAST(NULL AS VARCHAR) AS user_agent,
       CAST(NULL AS VARCHAR) AS detail
FROM (
    SELECT *, 'opened' AS kind, opened_at_ts AS event_ts FROM raw_phishsim_csv WHERE opened_at_ts IS NOT NULL
    UNION ALL BY NAME
    SELECT *, 'clicked' AS kind, phished_at_ts AS event_ts FROM raw_phishsim_csv WHERE phished_at_ts IS NOT NULL
    UNION ALL BY NAME
    SELECT *, 'replied' AS kind, replied_at_ts AS event_ts FROM raw_phishsim_csv WHERE replied_at_ts IS NOT NULL
    UNION ALL BY NAME
    SELECT *, 'entered_data' AS kind, entered_data_at_ts AS event_ts FROM raw_phishsim_csv WHERE entered_data_at_ts IS NOT NULL
    UNION ALL BY NAME
    SELECT *, 'reported' AS kind, reported_at_ts AS event_ts FROM raw_phishsim_csv WHERE reported_at_ts IS NOT NULL
)
