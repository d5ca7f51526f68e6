-- Postfix delivery-status and reject lines as canonical server-hop mail events.
-- Mapping: formats.md §3.6 / §5.3, documented in phishtrace/loaders/postfix.py. Message-ID and
-- sender come from the cleanup / qmgr lines the loader linked by queue id.
SELECT
    CAST(customer AS VARCHAR) AS customer,
    CAST(load_id AS BIGINT) AS load_id,
    CAST('postfix_log' AS VARCHAR) AS source_format,
    CAST('server' AS VARCHAR) AS hop,
    CAST('server' AS VARCHAR) AS verdict_hop,
    CAST(event_ts AS TIMESTAMPTZ) AS event_ts,
    CAST(pt_norm_msgid(message_id) AS VARCHAR) AS message_id,
    CAST(queue_id AS VARCHAR) AS vendor_id,
    CAST(pt_norm_addr(sender) AS VARCHAR) AS sender,
    -- the recipient the sender addressed (orig_to, before alias / virtual rewriting) when logged
    CAST(pt_norm_addr(coalesce(orig_to, recipient)) AS VARCHAR) AS recipient,
    CAST(NULL AS VARCHAR) AS subject,
    CAST(action AS VARCHAR) AS action,
    CAST(CASE
        WHEN action IN ('bounced', 'rejected', 'dropped') THEN 'none'
        WHEN action = 'quarantined' THEN 'quarantine'
        WHEN action = 'relayed' THEN 'external'
        WHEN action = 'junked' THEN 'junk'
        WHEN action = 'delivered' AND folder_key IN ('', 'inbox') THEN 'inbox'
        WHEN action = 'delivered' AND regexp_matches(folder_key, '(^|[./])(trash|deleted( items| messages)?)$') THEN 'deleted'
        WHEN action = 'delivered' THEN 'other_folder'
        END AS VARCHAR) AS location,
    CAST(nullif(concat_ws('; ',
        CASE
            WHEN kind = 'delivery' AND action = 'received' AND content_filter THEN 'handed to content filter, queued as ' || next_queue_id
            WHEN kind = 'delivery' AND action = 'received' AND next_queue_id IS NOT NULL THEN 'forwarded as ' || next_queue_id
            WHEN kind = 'expired' THEN 'queue lifetime expired, returned to sender (never delivered)'
            WHEN kind IN ('reject', 'milter-reject') AND action = 'deferred' THEN 'temporarily rejected (the client retries)'
        END,
        'relay=' || relay,
        CASE WHEN orig_to IS NOT NULL THEN 'rewritten to ' || recipient END,
        'folder ' || folder,
        'handed over from ' || handed_from,
        detail), '') AS VARCHAR) AS reason,
    CAST(concat_ws(' ', CASE WHEN kind = 'delivery' OR kind = 'expired' THEN 'status=' || status ELSE status END,
                   'dsn=' || dsn) AS VARCHAR) AS raw_status,
    CAST(source_row AS BIGINT) AS source_row,
    CAST(NULL AS VARCHAR) AS url,
    CAST(NULL AS VARCHAR) AS token,
    CAST(NULL AS VARCHAR) AS client_ip,
    CAST(NULL AS VARCHAR) AS user_agent
FROM (
    SELECT *,
        CASE
            WHEN kind IN ('reject', 'milter-reject') AND coalesce(dsn, '') LIKE '4%' THEN 'deferred'
            WHEN kind IN ('reject', 'milter-reject') THEN 'rejected'
            WHEN kind IN ('hold', 'milter-hold') THEN 'quarantined'
            WHEN kind IN ('discard', 'milter-discard') THEN 'dropped'
            WHEN kind = 'expired' THEN 'dropped'
            WHEN st = 'bounced' THEN 'bounced'
            WHEN st IN ('deferred', 'softbounce') THEN 'deferred'
            WHEN st = 'expired' THEN 'dropped'
            WHEN st <> 'sent' THEN 'received'
            WHEN next_queue_id IS NOT NULL THEN 'received'
            WHEN local_delivery AND regexp_matches(folder_key, '(^|[./])(junk|spam|junk e-mail|junk email)$') THEN 'junked'
            WHEN local_delivery THEN 'delivered'
            ELSE 'relayed'
        END AS action
    FROM (
        SELECT *,
            lower(coalesce(status, '')) AS st,
            lower(trim(coalesce(folder, ''))) AS folder_key,
            (regexp_extract(coalesce(program, ''), '/([^/]+)$', 1) IN ('lmtp', 'local', 'virtual')
             OR lower(coalesce(relay, '')) IN ('local', 'virtual')
             OR coalesce(relay, '') LIKE '%[/%'
             OR lower(coalesce(relay, '')) LIKE '%dovecot%') AS local_delivery
        FROM raw_postfix_log
    )
)
