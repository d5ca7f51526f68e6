-- Microsoft 365 message trace rows (one per recipient) as canonical server-hop mail events.
-- Status mapping: docs/architecture.md "Vendor mappings" (m365_message_trace). The status is matched
-- case-insensitively with spaces removed (Graph writes filteredAsSpam; the EAC UI may show words).
-- A Delivered row cannot tell Inbox from Junk (formats.md §3.1.5), so its location stays NULL.
SELECT
    CAST(customer AS VARCHAR) AS customer,
    CAST(load_id AS BIGINT) AS load_id,
    CAST('m365_message_trace' AS VARCHAR) AS source_format,
    CAST('server' AS VARCHAR) AS hop,
    CAST('server' AS VARCHAR) AS verdict_hop,
    CAST(event_ts AS TIMESTAMPTZ) AS event_ts,
    CAST(pt_norm_msgid(message_id) AS VARCHAR) AS message_id,
    CAST(nullif(trim(message_trace_id), '') AS VARCHAR) AS vendor_id,
    CAST(pt_norm_addr(sender_address) AS VARCHAR) AS sender,
    CAST(pt_norm_addr(recipient_address) AS VARCHAR) AS recipient,
    CAST(subject AS VARCHAR) AS subject,
    CAST(CASE status_key
        WHEN 'delivered' THEN 'delivered'
        WHEN 'quarantined' THEN 'quarantined'
        WHEN 'filteredasspam' THEN 'junked'
        WHEN 'failed' THEN 'dropped'
        WHEN 'pending' THEN 'deferred'
        ELSE 'received' END AS VARCHAR) AS action,
    CAST(CASE status_key
        WHEN 'quarantined' THEN 'quarantine'
        WHEN 'filteredasspam' THEN 'none'
        WHEN 'failed' THEN 'none'
        END AS VARCHAR) AS location,
    CAST(CASE status_key
        WHEN 'delivered' THEN 'delivered (message trace cannot tell Inbox from Junk)'
        WHEN 'filteredasspam' THEN 'filtered as spam (rejected or blocked, not quarantined)'
        WHEN 'failed' THEN 'delivery attempted and failed'
        WHEN 'pending' THEN 'delivery underway or deferred and being retried'
        WHEN 'expanded' THEN 'distribution group expanded; members have their own rows'
        WHEN 'gettingstatus' THEN 'waiting for a status update'
        WHEN 'none' THEN 'no delivery status (rejected or redirected to another recipient)'
        WHEN 'quarantined' THEN NULL
        WHEN '' THEN 'no status given'
        ELSE 'status not in the message trace vocabulary'
        END AS VARCHAR) AS reason,
    CAST(status AS VARCHAR) AS raw_status,
    CAST(source_row AS BIGINT) AS source_row,
    CAST(NULL AS VARCHAR) AS url,
    CAST(NULL AS VARCHAR) AS token,
    CAST(NULL AS VARCHAR) AS client_ip,
    CAST(NULL AS VARCHAR) AS user_agent
FROM (
    SELECT *, lower(replace(trim(coalesce(status, '')), ' ', '')) AS status_key
    FROM raw_m365_message_trace
)
