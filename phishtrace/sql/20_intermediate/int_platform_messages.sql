-- Every platform's campaign rows in one shape (docs/architecture.md, platform staging views).
SELECT CAST(NULL AS VARCHAR) AS customer, CAST(NULL AS BIGINT) AS load_id,
       CAST(NULL AS VARCHAR) AS source_format, CAST(NULL AS BIGINT) AS source_row,
       CAST(NULL AS VARCHAR) AS campaign, CAST(NULL AS VARCHAR) AS run,
       CAST(NULL AS TIMESTAMPTZ) AS run_start, CAST(NULL AS TIMESTAMPTZ) AS run_end,
       CAST(NULL AS VARCHAR) AS recipient, CAST(NULL AS VARCHAR) AS first_name,
       CAST(NULL AS VARCHAR) AS last_name, CAST(NULL AS VARCHAR) AS status,
       CAST(NULL AS VARCHAR) AS platform_status, CAST(NULL AS TIMESTAMPTZ) AS scheduled_at,
       CAST(NULL AS TIMESTAMPTZ) AS sent_at, CAST(NULL AS TIMESTAMPTZ) AS delivered_at,
       CAST(NULL AS TIMESTAMPTZ) AS bounced_at, CAST(NULL AS VARCHAR) AS bounce_reason,
       CAST(NULL AS VARCHAR) AS sender, CAST(NULL AS VARCHAR) AS subject,
       CAST(NULL AS VARCHAR) AS message_id, CAST(NULL AS VARCHAR) AS token,
       CAST(NULL AS BOOLEAN) AS learner_bounced
WHERE false
-- union: one line per platform staging view
UNION ALL BY NAME SELECT * FROM stg_phishsim_csv
UNION ALL BY NAME SELECT * FROM stg_gophish_results_csv
UNION ALL BY NAME SELECT * FROM stg_gophish_events_csv
UNION ALL BY NAME SELECT * FROM stg_gophish_api_json
UNION ALL BY NAME SELECT * FROM stg_knowbe4_recipients_json
UNION ALL BY NAME SELECT * FROM stg_ms_ast_csv
