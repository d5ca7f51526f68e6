-- Interactions recorded by the simulation platforms (opens, clicks, replies, data entry, reports).
SELECT CAST(NULL AS VARCHAR) AS customer, CAST(NULL AS BIGINT) AS load_id,
       CAST(NULL AS VARCHAR) AS source_format, CAST(NULL AS BIGINT) AS source_row,
       CAST(NULL AS VARCHAR) AS campaign, CAST(NULL AS VARCHAR) AS run,
       CAST(NULL AS VARCHAR) AS recipient, CAST(NULL AS VARCHAR) AS kind,
       CAST(NULL AS TIMESTAMPTZ) AS event_ts, CAST(NULL AS VARCHAR) AS client_ip,
       CAST(NULL AS VARCHAR) AS user_agent, CAST(NULL AS VARCHAR) AS detail
WHERE false
-- union: one line per platform interaction staging view
UNION ALL BY NAME SELECT * FROM stg_phishsim_csv__interactions
UNION ALL BY NAME SELECT * FROM stg_gophish_results_csv__interactions
UNION ALL BY NAME SELECT * FROM stg_gophish_events_csv__interactions
UNION ALL BY NAME SELECT * FROM stg_gophish_api_json__interactions
UNION ALL BY NAME SELECT * FROM stg_knowbe4_recipients_json__interactions
UNION ALL BY NAME SELECT * FROM stg_ms_ast_csv__interactions
