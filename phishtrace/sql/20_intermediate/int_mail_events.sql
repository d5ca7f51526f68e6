-- Every staged mail event in the canonical shape (docs/architecture.md), recipients resolved
-- through recipient_aliases. Each loader's staging view is added as one UNION line below.
-- event_id is a 64-bit hash of what makes an event distinct (a 20M-event customer has a chance of
-- about 1 in 100,000 of one collision); it is compact to store and join on, unlike a 32-character md5.
WITH unioned AS (
    SELECT CAST(NULL AS VARCHAR) AS customer, CAST(NULL AS BIGINT) AS load_id,
           CAST(NULL AS VARCHAR) AS source_format, CAST(NULL AS VARCHAR) AS hop,
           CAST(NULL AS VARCHAR) AS verdict_hop, CAST(NULL AS TIMESTAMPTZ) AS event_ts,
           CAST(NULL AS VARCHAR) AS message_id, CAST(NULL AS VARCHAR) AS vendor_id,
           CAST(NULL AS VARCHAR) AS sender, CAST(NULL AS VARCHAR) AS recipient,
           CAST(NULL AS VARCHAR) AS subject, CAST(NULL AS VARCHAR) AS action,
           CAST(NULL AS VARCHAR) AS location, CAST(NULL AS VARCHAR) AS reason,
           CAST(NULL AS VARCHAR) AS raw_status, CAST(NULL AS BIGINT) AS source_row,
           CAST(NULL AS VARCHAR) AS url, CAST(NULL AS VARCHAR) AS token,
           CAST(NULL AS VARCHAR) AS client_ip, CAST(NULL AS VARCHAR) AS user_agent
    WHERE false
    -- union: one line per mail-event staging view
    UNION ALL BY NAME SELECT * FROM stg_m365_trace_detail
    UNION ALL BY NAME SELECT * FROM stg_gmail_bigquery_json
    UNION ALL BY NAME SELECT * FROM stg_gmail_els_csv
    UNION ALL BY NAME SELECT * FROM stg_postfix_log
    UNION ALL BY NAME SELECT * FROM stg_mimecast_siem
    UNION ALL BY NAME SELECT * FROM stg_mimecast_api2_json
    UNION ALL BY NAME SELECT * FROM stg_cisco_esa_text
    UNION ALL BY NAME SELECT * FROM stg_cisco_esa_cef
    UNION ALL BY NAME SELECT * FROM stg_m365_trace_extended_csv
    UNION ALL BY NAME SELECT * FROM stg_proofpoint_tap_json
    UNION ALL BY NAME SELECT * FROM stg_proofpoint_smart_search
    UNION ALL BY NAME SELECT * FROM stg_abnormal_threats_json
    UNION ALL BY NAME SELECT * FROM stg_exchange_msgtrk
    UNION ALL BY NAME SELECT * FROM stg_proofpoint_pod_json
    UNION ALL BY NAME SELECT * FROM stg_defender_email_events
    UNION ALL BY NAME SELECT * FROM stg_defender_post_delivery
    UNION ALL BY NAME SELECT * FROM stg_m365_inbox_rules_json
    UNION ALL BY NAME SELECT * FROM stg_m365_timaildata_json
    UNION ALL BY NAME SELECT * FROM stg_m365_message_trace
)
SELECT u.customer, u.load_id, u.source_format, u.hop, coalesce(u.verdict_hop, u.hop) AS verdict_hop,
       u.event_ts, u.message_id, u.vendor_id, u.sender,
       coalesce(a.primary_address, u.recipient) AS recipient,
       u.subject, u.action, u.location, u.reason, u.raw_status, u.source_row,
       u.url, u.token, u.client_ip, u.user_agent,
       u.recipient AS recipient_as_logged,
       hash(u.source_format, u.load_id, u.source_row, u.action, u.event_ts,
                     u.recipient, u.vendor_id, u.url) AS event_id
FROM unioned u
LEFT JOIN recipient_aliases a ON a.customer = u.customer AND a.alias = u.recipient
