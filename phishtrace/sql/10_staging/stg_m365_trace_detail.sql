-- Exchange Online message trace detail events (formats.md §3.1.3, §5.3) as canonical server-hop mail events.
-- Event (case-insensitive) -> action:
--   Receive / Expand / Resolve(d) / Transfer / Submit / Spam Diagnostics -> received
--   Deliver -> delivered (inbox; junked/junk when the detail names the Junk folder)
--   Spam, or a detail saying "Sent to Junk Folder" -> junked (junk); with an Action naming quarantine / delete /
--     reject -> quarantined / dropped / rejected
--   Quarantine -> quarantined (quarantine); Fail -> bounced; Defer -> deferred; Drop -> dropped (none)
--   Send -> relayed (external)
--   Transport rule, Malware and any other event -> by its Action: quarantine -> quarantined, reject / NDR /
--     block -> rejected, delete / drop -> dropped (deleted), redirect -> dropped, junk -> junked,
--     moderate -> deferred; else received (reason keeps event, action and detail).
-- Labels other than Receive/Send/Fail/Deliver/Expand/Transfer/Defer are UNCERTAIN in §3.1.3; they are
-- matched by the words above. vendor_id = MessageTraceId. recipient is NULL for Graph
-- getDetailsByRecipient items saved without their recipient (they match by Message-ID only).
WITH keyed AS (
    SELECT *,
           lower(trim(coalesce(event, ''))) AS evk,
           lower(coalesce(action, '')) AS ak,
           lower(coalesce(detail, '')) AS dk
    FROM raw_m365_trace_detail
),
by_action AS (
    SELECT *,
        CASE
            WHEN ak LIKE '%quarantin%' THEN 'quarantined'
            WHEN ak LIKE '%reject%' OR ak LIKE '%ndr%' OR ak LIKE '%block%' THEN 'rejected'
            WHEN ak LIKE '%delet%' OR ak LIKE '%drop%' OR ak LIKE '%redirect%' THEN 'dropped'
            WHEN ak LIKE '%junk%' THEN 'junked'
            WHEN ak LIKE '%moderat%' THEN 'deferred'
        END AS action_verdict
    FROM keyed
),
mapped AS (
    SELECT *,
        CASE
            WHEN evk IN ('spam', 'junk') OR dk LIKE '%junk folder%' OR dk LIKE '%junk e-mail folder%'
                 OR dk LIKE '%junk email folder%'
                THEN coalesce(CASE WHEN action_verdict <> 'deferred' THEN action_verdict END,
                              CASE WHEN dk LIKE '%quarantin%' THEN 'quarantined' END, 'junked')
            WHEN evk LIKE 'quarantin%' THEN 'quarantined'
            WHEN evk IN ('fail', 'failed') THEN 'bounced'
            WHEN evk IN ('defer', 'deferred') THEN 'deferred'
            WHEN evk IN ('drop', 'dropped') THEN 'dropped'
            WHEN evk IN ('deliver', 'delivered') THEN 'delivered'
            WHEN evk IN ('send', 'sent', 'sendexternal') THEN 'relayed'
            WHEN evk IN ('receive', 'received', 'expand', 'expanded', 'resolve', 'resolved', 'transfer',
                         'transferred', 'submit', 'spam diagnostics') THEN 'received'
            ELSE coalesce(action_verdict, 'received')
        END AS act
    FROM by_action
)
SELECT
    CAST(customer AS VARCHAR) AS customer,
    CAST(load_id AS BIGINT) AS load_id,
    CAST('m365_trace_detail' AS VARCHAR) AS source_format,
    CAST('server' AS VARCHAR) AS hop,
    CAST('server' AS VARCHAR) AS verdict_hop,
    CAST(event_ts AS TIMESTAMPTZ) AS event_ts,
    CAST(pt_norm_msgid(message_id) AS VARCHAR) AS message_id,
    CAST(nullif(trim(message_trace_id), '') AS VARCHAR) AS vendor_id,
    CAST(pt_norm_addr(sender_address) AS VARCHAR) AS sender,
    CAST(pt_norm_addr(recipient_address) AS VARCHAR) AS recipient,
    CAST(subject AS VARCHAR) AS subject,
    CAST(act AS VARCHAR) AS action,
    CAST(CASE act
        WHEN 'delivered' THEN 'inbox'
        WHEN 'junked' THEN 'junk'
        WHEN 'quarantined' THEN 'quarantine'
        WHEN 'dropped' THEN CASE WHEN ak LIKE '%delet%' OR dk LIKE '%delet%' THEN 'deleted' ELSE 'none' END
        WHEN 'relayed' THEN 'external'
        END AS VARCHAR) AS location,
    CAST(nullif(concat_ws(' | ', nullif(trim(detail), ''), 'action ' || nullif(trim(action), '')), '') AS VARCHAR) AS reason,
    CAST(trim(event) || coalesce(' / ' || nullif(trim(action), ''), '') AS VARCHAR) AS raw_status,
    CAST(source_row AS BIGINT) AS source_row,
    CAST(NULL AS VARCHAR) AS url,
    CAST(NULL AS VARCHAR) AS token,
    CAST(NULL AS VARCHAR) AS client_ip,
    CAST(NULL AS VARCHAR) AS user_agent
FROM mapped
