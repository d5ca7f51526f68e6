-- Mimecast API 2.0 SIEM records (formats.md §2.2.2, §5.2) as canonical filter-hop mail events.
-- Same vocabulary as the v1 logs (stg_mimecast_siem.sql); the action is `action`, else `subtype`:
-- receipt  Rej -> rejected, Bnc -> bounced, Ign -> dropped (UNCERTAIN), Acc / other -> received
-- process  Acc -> passed, Hld -> quarantined (reason = holdReason), Bnc -> bounced, Sdbx / Rty -> deferred.
--          Process records carry no recipients: they take those of the receipt and delivery records with
--          the same aggregateId ("correlate/group related events"), else the same processingId, else the
--          same Message-ID, in any load of the customer; with none the recipient stays NULL.
-- delivery delivered "true" -> relayed (external); "false" with a 5xx reply (rejectionCode/Info,
--          deliveryErrors) -> bounced with verdict_hop 'server' (the next hop refused); "false" otherwise
--          -> deferred
-- url protect: action Block -> clicked_blocked, another action -> clicked, none -> clicked_blocked when
--          blockReason is malicious/suspicious/file detected (UNCERTAIN), else clicked
-- impersonation protect: Hold -> quarantined; spam, av, attachment protect, journal, internal email
--          protect and other types -> received (evidence only)
WITH r AS (
    SELECT * REPLACE (pt_norm_addr(recipient) AS recipient, pt_norm_addr(sender) AS sender,
                      pt_norm_msgid(message_id) AS message_id),
           lower(coalesce(action, subtype)) AS act_key, left(reply_code, 1) AS reply_class,
           coalesce(aggregate_id, processing_id) AS corr_id
    FROM raw_mimecast_api2_json
),
known AS (
    SELECT customer, aggregate_id, processing_id, message_id AS msgid, recipient AS rcpt, sender AS snd,
           subject AS subj
    FROM r
    WHERE record_type IN ('receipt', 'delivery') AND recipient IS NOT NULL
),
by_agg AS (
    SELECT customer, aggregate_id, list(DISTINCT rcpt ORDER BY rcpt) AS rcpts,
           min(snd) AS snd, min(subj) AS subj, min(msgid) AS msgid
    FROM known WHERE aggregate_id IS NOT NULL GROUP BY customer, aggregate_id
),
by_proc AS (
    SELECT customer, processing_id, list(DISTINCT rcpt ORDER BY rcpt) AS rcpts,
           min(snd) AS snd, min(subj) AS subj, min(msgid) AS msgid
    FROM known WHERE processing_id IS NOT NULL GROUP BY customer, processing_id
),
by_msgid AS (
    SELECT customer, msgid, list(DISTINCT rcpt ORDER BY rcpt) AS rcpts, min(snd) AS snd, min(subj) AS subj
    FROM known WHERE msgid IS NOT NULL GROUP BY customer, msgid
),
process_rows AS (
    SELECT p.* EXCLUDE (recipient, sender, subject, message_id),
           unnest(coalesce(a.rcpts, b.rcpts, m.rcpts, [CAST(NULL AS VARCHAR)])) AS recipient,
           coalesce(p.sender, a.snd, b.snd, m.snd) AS sender,
           coalesce(p.subject, a.subj, b.subj, m.subj) AS subject,
           coalesce(p.message_id, a.msgid, b.msgid) AS message_id
    FROM r p
    LEFT JOIN by_agg a ON a.customer = p.customer AND a.aggregate_id = p.aggregate_id
    LEFT JOIN by_proc b ON a.aggregate_id IS NULL AND b.customer = p.customer
                       AND b.processing_id = p.processing_id
    LEFT JOIN by_msgid m ON a.aggregate_id IS NULL AND b.processing_id IS NULL AND m.customer = p.customer
                        AND m.msgid = p.message_id
    WHERE p.record_type = 'process' AND p.recipient IS NULL
),
events AS (
    SELECT * FROM r WHERE NOT (record_type = 'process' AND recipient IS NULL)
    UNION ALL BY NAME
    SELECT * FROM process_rows
),
mapped AS (
    SELECT *,
        CASE record_type
            WHEN 'receipt' THEN CASE act_key WHEN 'rej' THEN 'rejected' WHEN 'bnc' THEN 'bounced'
                                             WHEN 'ign' THEN 'dropped' ELSE 'received' END
            WHEN 'process' THEN CASE act_key WHEN 'acc' THEN 'passed' WHEN 'hld' THEN 'quarantined'
                                             WHEN 'bnc' THEN 'bounced' WHEN 'sdbx' THEN 'deferred'
                                             WHEN 'rty' THEN 'deferred' ELSE 'received' END
            WHEN 'delivery' THEN CASE
                WHEN coalesce(delivered, lower(subtype)) = 'true' THEN 'relayed'
                WHEN reply_class = '5' THEN 'bounced'
                WHEN coalesce(delivered, lower(subtype)) = 'false'
                  OR coalesce(delivery_errors, rejection_type, rejection_code, rejection_info) IS NOT NULL
                    THEN 'deferred'
                ELSE 'received' END
            WHEN 'url protect' THEN CASE
                WHEN act_key = 'block' THEN 'clicked_blocked'
                WHEN act_key IS NOT NULL THEN 'clicked'
                WHEN lower(block_reason) IN ('malicious', 'suspicious', 'file detected') THEN 'clicked_blocked'
                ELSE 'clicked' END
            WHEN 'impersonation protect' THEN CASE WHEN act_key = 'hold' THEN 'quarantined' ELSE 'received' END
            ELSE 'received'
        END AS mapped_action
    FROM events
)
SELECT
    CAST(customer AS VARCHAR) AS customer,
    CAST(load_id AS BIGINT) AS load_id,
    CAST('mimecast_api2_json' AS VARCHAR) AS source_format,
    CAST('filter' AS VARCHAR) AS hop,
    CAST(CASE WHEN record_type = 'delivery' AND mapped_action = 'bounced' THEN 'server' ELSE 'filter' END AS VARCHAR)
        AS verdict_hop,
    CAST(event_ts AS TIMESTAMPTZ) AS event_ts,
    CAST(message_id AS VARCHAR) AS message_id,
    CAST(corr_id AS VARCHAR) AS vendor_id,
    CAST(sender AS VARCHAR) AS sender,
    CAST(recipient AS VARCHAR) AS recipient,
    CAST(subject AS VARCHAR) AS subject,
    CAST(mapped_action AS VARCHAR) AS action,
    CAST(CASE mapped_action WHEN 'relayed' THEN 'external' WHEN 'quarantined' THEN 'quarantine'
                            WHEN 'dropped' THEN 'none' END AS VARCHAR) AS location,
    CAST(CASE
        WHEN mapped_action IN ('rejected', 'bounced') OR (record_type = 'delivery' AND mapped_action = 'deferred')
            THEN nullif(concat_ws(': ', rejection_type,
                                  nullif(concat_ws(' ', rejection_code, rejection_info), ''), delivery_errors), '')
        WHEN record_type = 'process' AND act_key = 'hld' THEN 'held: ' || coalesce(hold_reason, 'no reason given')
        WHEN record_type = 'process' AND act_key = 'sdbx' THEN 'held for sandbox analysis (Sdbx)'
        WHEN record_type = 'process' AND act_key = 'rty' THEN 'retrying (Rty)'
        WHEN record_type = 'receipt' AND act_key = 'ign' THEN 'accepted and ignored at receipt (Ign)'
        WHEN record_type = 'impersonation protect'
            THEN 'impersonation protect: ' || coalesce(policy_definition, action, 'detected')
        WHEN mapped_action = 'relayed' THEN concat_ws(' ', 'handed to', coalesce(destination_host, 'the next hop'))
        WHEN record_type IN ('url protect', 'internal email protect')
            THEN nullif(concat_ws('; ', record_type, url_category, block_reason), '')
        WHEN mapped_action = 'received' AND record_type <> 'receipt'
            THEN record_type || ' record (no delivery decision)'
    END AS VARCHAR) AS reason,
    CAST(concat_ws('/', record_type, coalesce(action, subtype, 'delivered=' || delivered), hold_reason) AS VARCHAR)
        AS raw_status,
    CAST(source_row AS BIGINT) AS source_row,
    CAST(url AS VARCHAR) AS url,
    CAST(token AS VARCHAR) AS token,
    CAST(client_ip AS VARCHAR) AS client_ip,
    CAST(user_agent AS VARCHAR) AS user_agent
FROM mapped
