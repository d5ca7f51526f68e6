-- Gmail Email Log Search CSV rows (one per recipient) as canonical server-hop mail events.
-- Mapping: formats.md §3.5.2 / §5.3, documented (with its UNCERTAIN parts) in
-- phishtrace/loaders/gmail_els.py. Status texts are matched case-insensitively.
SELECT
    CAST(customer AS VARCHAR) AS customer,
    CAST(load_id AS BIGINT) AS load_id,
    CAST('gmail_els_csv' AS VARCHAR) AS source_format,
    CAST('server' AS VARCHAR) AS hop,
    CAST('server' AS VARCHAR) AS verdict_hop,
    CAST(event_ts AS TIMESTAMPTZ) AS event_ts,
    CAST(CASE WHEN unknown_id THEN NULL ELSE pt_norm_msgid(message_id) END AS VARCHAR) AS message_id,
    CAST(NULL AS VARCHAR) AS vendor_id,
    CAST(pt_norm_addr(nullif(regexp_extract(sender, '[^\s<>"''(),;:]+@[^\s<>"''(),;:]+'), '')) AS VARCHAR) AS sender,
    CAST(pt_norm_addr(recipient) AS VARCHAR) AS recipient,
    CAST(subject AS VARCHAR) AS subject,
    CAST(action AS VARCHAR) AS action,
    CAST(CASE
        WHEN action IN ('bounced', 'rejected') THEN 'none'
        WHEN action = 'quarantined' THEN 'quarantine'
        WHEN action = 'junked' THEN 'junk'
        WHEN action = 'relayed' THEN 'external'
        WHEN action = 'delivered' AND (st = 'delivered to gmail inbox' OR tgt = 'GMAIL_INBOX') THEN 'inbox'
        END AS VARCHAR) AS location,
    CAST(nullif(concat_ws('; ',
        CASE WHEN unknown_id THEN 'Message-ID unknown: SMTP relay rejected the message' END,
        CASE WHEN st = 'delivered to a google internal server' THEN 'handed to a Google internal server' END,
        'event target ' || event_target,
        'post-delivery status ' || post_delivery_status,
        details), '') AS VARCHAR) AS reason,
    CAST(nullif(concat_ws(' | ', status, event_target, post_delivery_status), '') AS VARCHAR) AS raw_status,
    CAST(source_row AS BIGINT) AS source_row,
    CAST(NULL AS VARCHAR) AS url,
    CAST(NULL AS VARCHAR) AS token,
    CAST(NULL AS VARCHAR) AS client_ip,
    CAST(NULL AS VARCHAR) AS user_agent
FROM (
    SELECT *,
        CASE
            WHEN unknown_id THEN 'rejected'
            WHEN st LIKE '%bounce%' THEN 'bounced'
            WHEN st LIKE '%quarantin%' THEN 'quarantined'
            WHEN st LIKE '%reject%' THEN 'rejected'
            WHEN st LIKE 'bypassed spam%' THEN 'passed'
            WHEN st LIKE '%spam%' OR tgt = 'GMAIL_SPAM' THEN 'junked'
            WHEN st = 'delivered to gmail inbox' OR (st IN ('', 'delivered') AND tgt = 'GMAIL_INBOX') THEN 'delivered'
            WHEN st = 'delivered to an smtp server' OR (st IN ('', 'delivered') AND tgt = 'SMTP_OUT') THEN 'relayed'
            WHEN st = 'delivered to a google internal server' THEN 'received'
            WHEN st LIKE 'delivered%' THEN 'delivered'
            ELSE 'received'
        END AS action
    FROM (
        SELECT *,
            lower(trim(regexp_replace(coalesce(status, ''), '\s+', ' ', 'g'), ' .')) AS st,
            upper(trim(coalesce(event_target, ''))) AS tgt,
            upper(trim(coalesce(message_id, ''))) = 'SMTPIN_ADDED_REJECT_SESSION' AS unknown_id
        FROM raw_gmail_els_csv
    )
)
