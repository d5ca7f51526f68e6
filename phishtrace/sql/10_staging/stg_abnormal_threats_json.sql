-- Abnormal Security threats API messages (one raw row per recipient) as mailbox-hop events,
-- formats.md §2.4 / §5.2. A message counts as remediated when remediationStatus (lower-case, letters
-- only) ends in "remediated" without starting with "no" (seen: Auto-Remediated; Post Remediated,
-- Remediated follow the same reading), or, with no status, when autoRemediated or postRemediated is
-- true. Other statuses (Not Remediated, Would Remediate, Released, ...) are UNCERTAIN and read as
-- not remediated.
-- Remediated: delivered at receivedTime (verdict_hop server: it reached the mailbox) and
--             removed_post_delivery at remediationTimestamp (receivedTime when absent; verdict_hop
--             mailbox). Where Abnormal put the message is not in the record, so location is NULL.
-- Not remediated: received at receivedTime (verdict_hop mailbox).
-- sender = returnPath (envelope), else fromAddress; vendor_id = threatId.
WITH base AS (
    SELECT *,
        regexp_replace(lower(coalesce(remediation_status, '')), '[^a-z]', '', 'g') AS status_key
    FROM raw_abnormal_threats_json
),
flagged AS (
    SELECT *,
        CASE WHEN status_key <> '' THEN status_key LIKE '%remediated' AND status_key NOT LIKE 'no%'
             ELSE lower(coalesce(auto_remediated, '')) = 'true' OR lower(coalesce(post_remediated, '')) = 'true'
        END AS remediated,
        concat_ws('; ',
            'attackType ' || nullif(trim(attack_type), ''),
            'autoRemediated ' || nullif(trim(auto_remediated), ''),
            'postRemediated ' || nullif(trim(post_remediated), ''),
            'isRead ' || nullif(trim(is_read), '')) AS detail
    FROM base
),
events AS (
    SELECT *, received_ts AS event_ts, 'delivered' AS action, 'server' AS verdict_hop,
           concat_ws('; ', 'in the mailbox when Abnormal received it', nullif(detail, '')) AS reason
    FROM flagged WHERE remediated
    UNION ALL
    SELECT *, coalesce(remediation_ts, received_ts) AS event_ts, 'removed_post_delivery' AS action,
           'mailbox' AS verdict_hop,
           concat_ws('; ', 'Abnormal ' || coalesce(nullif(trim(remediation_status), ''), 'remediated') ||
                     CASE WHEN remediation_ts IS NULL THEN ' (no remediationTimestamp: time of receipt)' ELSE '' END,
                     nullif(detail, '')) AS reason
    FROM flagged WHERE remediated
    UNION ALL
    SELECT *, received_ts AS event_ts, 'received' AS action, 'mailbox' AS verdict_hop,
           concat_ws('; ', 'Abnormal threat, not remediated (' ||
                     coalesce(nullif(trim(remediation_status), ''), 'no remediationStatus') || ')',
                     nullif(detail, '')) AS reason
    FROM flagged WHERE NOT remediated
)
SELECT
    CAST(customer AS VARCHAR) AS customer,
    CAST(load_id AS BIGINT) AS load_id,
    CAST('abnormal_threats_json' AS VARCHAR) AS source_format,
    CAST('mailbox' AS VARCHAR) AS hop,
    CAST(verdict_hop AS VARCHAR) AS verdict_hop,
    CAST(event_ts AS TIMESTAMPTZ) AS event_ts,
    CAST(pt_norm_msgid(internet_message_id) AS VARCHAR) AS message_id,
    CAST(nullif(trim(threat_id), '') AS VARCHAR) AS vendor_id,
    CAST(coalesce(pt_norm_addr(return_path), pt_norm_addr(from_address)) AS VARCHAR) AS sender,
    CAST(pt_norm_addr(recipient) AS VARCHAR) AS recipient,
    CAST(subject AS VARCHAR) AS subject,
    CAST(action AS VARCHAR) AS action,
    CAST(NULL AS VARCHAR) AS location,
    CAST(reason AS VARCHAR) AS reason,
    CAST(coalesce(nullif(trim(remediation_status), ''),
                  nullif(concat_ws('; ', 'autoRemediated ' || nullif(trim(auto_remediated), ''),
                                   'postRemediated ' || nullif(trim(post_remediated), '')), '')) AS VARCHAR) AS raw_status,
    CAST(source_row AS BIGINT) AS source_row,
    CAST(NULL AS VARCHAR) AS url,
    CAST(NULL AS VARCHAR) AS token,
    CAST(NULL AS VARCHAR) AS client_ip,
    CAST(NULL AS VARCHAR) AS user_agent
FROM events
