-- Mimecast legacy SIEM v1 records (formats.md §2.2.1, §5.2) as canonical filter-hop mail events.
-- receipt  Act: Rej -> rejected, Bnc -> bounced, Ign -> dropped (accepted and ignored; UNCERTAIN),
--          Acc / other -> received
-- process  Act: Acc -> passed, Hld -> quarantined (reason = hold reason Hld), Bnc -> bounced,
--          Sdbx (sandbox hold) / Rty (retry) -> deferred. Process lines carry no recipient: they take
--          the recipients (and sender/subject when missing) of the receipt and delivery lines with the
--          same aCode in any load of the customer, else of those with the same Message-ID; with neither
--          the event keeps a NULL recipient (it still matches by Message-ID).
-- delivery Delivered true -> relayed (external); false with a 5xx reply (RejCode, RejInfo or Err) ->
--          bounced with verdict_hop 'server' (the next hop refused); false otherwise -> deferred (retried)
-- url_protect (TTP URL click logs): action Block -> clicked_blocked, another action -> clicked, no
--          action -> clicked_blocked when reason is malicious/suspicious/file detected or urlCategory is
--          Blocked (UNCERTAIN), else clicked
-- impersonation: Action Hold -> quarantined; av, spam, attachment/internal email protect, journal,
--          impersonation without Hold and other kinds -> received (evidence only, never decisive)
WITH r AS (
    SELECT * REPLACE (pt_norm_addr(recipient) AS recipient, pt_norm_addr(sender) AS sender,
                      pt_norm_msgid(message_id) AS message_id),
           lower(act) AS act_key, left(reply_code, 1) AS reply_class
    FROM raw_mimecast_siem
),
known AS (
    SELECT customer, acode, message_id AS msgid, recipient AS rcpt, sender AS snd, subject AS subj
    FROM r
    WHERE log_kind IN ('receipt', 'delivery') AND recipient IS NOT NULL
),
by_acode AS (
    SELECT customer, acode, list(DISTINCT rcpt ORDER BY rcpt) AS rcpts,
           min(snd) AS snd, min(subj) AS subj, min(msgid) AS msgid
    FROM known WHERE acode IS NOT NULL GROUP BY customer, acode
),
by_msgid AS (
    SELECT customer, msgid, list(DISTINCT rcpt ORDER BY rcpt) AS rcpts, min(snd) AS snd, min(subj) AS subj
    FROM known WHERE msgid IS NOT NULL GROUP BY customer, msgid
),
process_rows AS (
    SELECT p.* EXCLUDE (recipient, sender, subject, message_id),
           unnest(coalesce(a.rcpts, m.rcpts, [CAST(NULL AS VARCHAR)])) AS recipient,
           coalesce(p.sender, a.snd, m.snd) AS sender,
           coalesce(p.subject, a.subj, m.subj) AS subject,
           coalesce(p.message_id, a.msgid) AS message_id
    FROM r p
    LEFT JOIN by_acode a ON a.customer = p.customer AND a.acode = p.acode
    LEFT JOIN by_msgid m ON a.acode IS NULL AND m.customer = p.customer
                        AND m.msgid = p.message_id
    WHERE p.log_kind = 'process'
),
events AS (
    SELECT * FROM r WHERE log_kind <> 'process'
    UNION ALL BY NAME
    SELECT * FROM process_rows
),
mapped AS (
    SELECT *,
        CASE log_kind
            WHEN 'receipt' THEN CASE act_key WHEN 'rej' THEN 'rejected' WHEN 'bnc' THEN 'bounced'
                                             WHEN 'ign' THEN 'dropped' ELSE 'received' END
            WHEN 'process' THEN CASE act_key WHEN 'acc' THEN 'passed' WHEN 'hld' THEN 'quarantined'
                                             WHEN 'bnc' THEN 'bounced' WHEN 'sdbx' THEN 'deferred'
                                             WHEN 'rty' THEN 'deferred' ELSE 'received' END
            WHEN 'delivery' THEN CASE
                WHEN delivered = 'true' THEN 'relayed'
                WHEN reply_class = '5' THEN 'bounced'
                WHEN delivered = 'false' OR coalesce(error, rej_type, rej_code, rej_info) IS NOT NULL THEN 'deferred'
                ELSE 'received' END
            WHEN 'url_protect' THEN CASE
                WHEN lower(policy_action) = 'block' THEN 'clicked_blocked'
                WHEN policy_action IS NOT NULL THEN 'clicked'
                WHEN lower(scan_result) IN ('malicious', 'suspicious', 'file detected')
                  OR lower(url_category) = 'blocked' THEN 'clicked_blocked'
                ELSE 'clicked' END
            WHEN 'impersonation' THEN CASE WHEN lower(policy_action) = 'hold' THEN 'quarantined' ELSE 'received' END
            ELSE 'received'
        END AS mapped_action
    FROM events
)
SELECT
    CAST(customer AS VARCHAR) AS customer,
    CAST(load_id AS BIGINT) AS load_id,
    CAST('mimecast_siem' AS VARCHAR) AS source_format,
    CAST('filter' AS VARCHAR) AS hop,
    CAST(CASE WHEN log_kind = 'delivery' AND mapped_action = 'bounced' THEN 'server' ELSE 'filter' END AS VARCHAR)
        AS verdict_hop,
    CAST(event_ts AS TIMESTAMPTZ) AS event_ts,
    CAST(message_id AS VARCHAR) AS message_id,
    CAST(acode AS VARCHAR) AS vendor_id,
    CAST(sender AS VARCHAR) AS sender,
    CAST(recipient AS VARCHAR) AS recipient,
    CAST(subject AS VARCHAR) AS subject,
    CAST(mapped_action AS VARCHAR) AS action,
    CAST(CASE mapped_action WHEN 'relayed' THEN 'external' WHEN 'quarantined' THEN 'quarantine'
                            WHEN 'dropped' THEN 'none' END AS VARCHAR) AS location,
    CAST(CASE
        WHEN mapped_action IN ('rejected', 'bounced') OR (log_kind = 'delivery' AND mapped_action = 'deferred')
            THEN nullif(concat_ws(': ', rej_type, nullif(concat_ws(' ', rej_code, rej_info), ''), error), '')
        WHEN log_kind = 'process' AND act_key = 'hld' THEN 'held: ' || coalesce(hold_reason, 'no reason given')
        WHEN log_kind = 'process' AND act_key = 'sdbx' THEN 'held for sandbox analysis (Sdbx)'
        WHEN log_kind = 'process' AND act_key = 'rty' THEN 'retrying (Rty)'
        WHEN log_kind = 'receipt' AND act_key = 'ign' THEN 'accepted and ignored at receipt (Ign)'
        WHEN log_kind = 'impersonation'
            THEN 'impersonation protect: ' || coalesce(definition, policy_action, 'detected')
        WHEN mapped_action = 'relayed' THEN coalesce(receipt_ack, 'handed to the next hop')
        WHEN log_kind IN ('url_protect', 'internal_email_protect')
            THEN nullif(concat_ws('; ', log_kind, url_category, scan_result), '')
        WHEN log_kind IN ('av', 'spam', 'attachment_protect', 'journal', 'other')
            THEN concat_ws('; ', log_kind || ' log (no delivery decision)', virus)
    END AS VARCHAR) AS reason,
    CAST(concat_ws('/', log_kind, coalesce(act, 'delivered=' || delivered, policy_action), hold_reason) AS VARCHAR)
        AS raw_status,
    CAST(source_row AS BIGINT) AS source_row,
    CAST(url AS VARCHAR) AS url,
    CAST(token AS VARCHAR) AS token,
    CAST(client_ip AS VARCHAR) AS client_ip,
    CAST(user_agent AS VARCHAR) AS user_agent
FROM mapped
