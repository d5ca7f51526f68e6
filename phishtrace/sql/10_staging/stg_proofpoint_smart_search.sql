-- Proofpoint Smart Search rows as canonical mail events (formats.md §2.1.3; docs/architecture.md,
-- proofpoint_pod_json rules). One row per recipient. Final_Action (else Disposition_Action) decides;
-- the sendmail columns refine an accepted message that was not Sent: 5.x.x / 5xx / "User unknown" =
-- refused by the next hop (bounced, verdict_hop server), 4.x.x / 4xx / Deferred = deferred.
WITH r AS (
    SELECT *,
           lower(coalesce(final_action, disposition_action)) AS fa,
           concat_ws(' ', sendmail_stat, sendmail_to_stat) AS sm_text
    FROM raw_proofpoint_smart_search
), m AS (
    SELECT *,
           CASE
               WHEN fa = 'reject' THEN 'rejected'
               WHEN fa = 'discard' AND quarantine_folder IS NOT NULL
                    AND lower(coalesce(quarantine_rule, '')) <> 'audit' THEN 'quarantined'
               WHEN fa = 'discard' THEN 'dropped'
               WHEN fa = 'retry' THEN 'deferred'
               WHEN regexp_matches(sm_text, '^\s*sent\b', 'i') THEN 'passed'
               WHEN sendmail_errorcode LIKE '5%'
                    OR regexp_matches(sm_text, '(^|\s)(5[0-9][0-9][ -]|5\.[0-9]+\.[0-9]+|user unknown|service unavailable|host unknown)', 'i')
                    THEN 'bounced'
               WHEN sendmail_errorcode LIKE '4%'
                    OR regexp_matches(sm_text, '(^|\s)(4[0-9][0-9][ -]|4\.[0-9]+\.[0-9]+|deferred)', 'i')
                    THEN 'deferred'
               ELSE 'passed'
           END AS act
    FROM r
)
SELECT
    CAST(customer AS VARCHAR) AS customer,
    CAST(load_id AS BIGINT) AS load_id,
    CAST('proofpoint_smart_search' AS VARCHAR) AS source_format,
    CAST('filter' AS VARCHAR) AS hop,
    CAST(CASE WHEN act = 'bounced' THEN 'server' ELSE 'filter' END AS VARCHAR) AS verdict_hop,
    CAST(event_ts AS TIMESTAMPTZ) AS event_ts,
    CAST(pt_norm_msgid(message_id) AS VARCHAR) AS message_id,
    CAST(coalesce(guid, qid) AS VARCHAR) AS vendor_id,
    CAST(pt_norm_addr(sender) AS VARCHAR) AS sender,
    CAST(pt_norm_addr(recipient) AS VARCHAR) AS recipient,
    CAST(subject AS VARCHAR) AS subject,
    CAST(act AS VARCHAR) AS action,
    CAST(CASE act WHEN 'quarantined' THEN 'quarantine' WHEN 'dropped' THEN 'none' END AS VARCHAR) AS location,
    CAST(concat_ws('; ',
        'final action ' || fa || coalesce(' (' || final_rule || ')', ''),
        CASE WHEN quarantine_folder IS NOT NULL
             THEN 'quarantine ' || concat_ws('/', quarantine_folder, quarantine_rule) END,
        CASE WHEN fa = 'redirect' THEN 'redirected' END,
        nullif(concat_ws(' ', sendmail_errorcode, sm_text), '')
    ) AS VARCHAR) AS reason,
    CAST(concat_ws('/', coalesce(final_action, disposition_action), sendmail_errorcode, sendmail_stat,
                   sendmail_to_stat) AS VARCHAR) AS raw_status,
    CAST(source_row AS BIGINT) AS source_row,
    CAST(NULL AS VARCHAR) AS url,
    CAST(NULL AS VARCHAR) AS token,
    CAST(NULL AS VARCHAR) AS client_ip,
    CAST(NULL AS VARCHAR) AS user_agent
FROM m
