-- Gmail logs in BigQuery rows (one per destination) as canonical server-hop mail events.
-- Mapping: formats.md §3.5.1 / §5.3, documented (with its UNCERTAIN parts) in phishtrace/loaders/gmail.py.
-- mail_event_type decides first; delivery-stage rows (type 0, 2 or none) are read from success,
-- is_spam and the destination service.
SELECT
    CAST(customer AS VARCHAR) AS customer,
    CAST(load_id AS BIGINT) AS load_id,
    CAST('gmail_bigquery_json' AS VARCHAR) AS source_format,
    CAST('server' AS VARCHAR) AS hop,
    CAST(CASE WHEN met IN (12, 13, 15, 16) THEN 'mailbox' ELSE 'server' END AS VARCHAR) AS verdict_hop,
    CAST(event_ts AS TIMESTAMPTZ) AS event_ts,
    CAST(pt_norm_msgid(message_id) AS VARCHAR) AS message_id,
    CAST(NULL AS VARCHAR) AS vendor_id,
    CAST(coalesce(pt_norm_addr(source_address), pt_norm_addr(from_header_address)) AS VARCHAR) AS sender,
    CAST(pt_norm_addr(recipient) AS VARCHAR) AS recipient,
    CAST(subject AS VARCHAR) AS subject,
    CAST(action AS VARCHAR) AS action,
    CAST(CASE action
        WHEN 'quarantined' THEN 'quarantine'
        WHEN 'junked' THEN 'junk'
        WHEN 'delivered' THEN 'inbox'
        WHEN 'moved_by_rule' THEN 'deleted'
        WHEN 'relayed' THEN 'external'
        WHEN 'rejected' THEN 'none'
        END AS VARCHAR) AS location,
    CAST(nullif(concat_ws('; ',
        CASE met
            WHEN 0 THEN 'delivery stage'
            WHEN 1 THEN 'sent'
            WHEN 2 THEN 'received'
            WHEN 3 THEN 'user marked spam, phishing or not spam'
            WHEN 4 THEN 'flagged as spam after delivery'
            WHEN 5 THEN 'quarantined'
            WHEN 6 THEN 'released from quarantine'
            WHEN 7 THEN 'opened for the first time'
            WHEN 8 THEN 'marked unread'
            WHEN 9 THEN 'first reply'
            WHEN 10 THEN 'first forward'
            WHEN 11 THEN 'auto-forwarded'
            WHEN 12 THEN 'moved to Inbox'
            WHEN 13 THEN 'moved to Trash'
            WHEN 14 THEN 'removed from Trash'
            WHEN 15 THEN 'link in body clicked'
            WHEN 16 THEN 'link clicked in attachment preview'
            WHEN 17 THEN 'attachment downloaded'
            WHEN 18 THEN 'attachments saved to Drive'
            WHEN 19 THEN 'Drive items saved'
            END,
        CASE WHEN failed THEN 'not successful (e.g. rejected by policy)' END,
        CASE WHEN spam THEN 'classified as spam' END,
        'destination service ' || destination_service,
        'spam classification reason ' || spam_classification_reason,
        'rules ' || triggered_rules,
        'SMTP reply ' || smtp_reply_code,
        description), '') AS VARCHAR) AS reason,
    CAST(concat_ws(' ',
        'mail_event_type=' || mail_event_type,
        'action_type=' || action_type,
        'success=' || success,
        'is_spam=' || is_spam,
        'spam_disposition=' || spam_disposition,
        'service=' || destination_service) AS VARCHAR) AS raw_status,
    CAST(source_row AS BIGINT) AS source_row,
    CAST(CASE WHEN action = 'clicked' THEN link_url END AS VARCHAR) AS url,
    CAST(CASE WHEN action = 'clicked' THEN nullif(regexp_extract(link_url, '[?&]rid=([^&#]+)', 1), '') END
         AS VARCHAR) AS token,
    CAST(NULL AS VARCHAR) AS client_ip,
    CAST(NULL AS VARCHAR) AS user_agent
FROM (
    SELECT *,
        CASE
            WHEN met = 5 THEN 'quarantined'
            WHEN met = 6 THEN 'released'
            WHEN met = 4 THEN 'junked'
            WHEN met = 12 THEN 'delivered'
            WHEN met = 13 THEN 'moved_by_rule'
            WHEN met IN (15, 16) THEN 'clicked'
            WHEN coalesce(met, 0) NOT IN (0, 2) THEN 'received'
            WHEN failed THEN 'rejected'
            WHEN spam OR svc LIKE '%spam%' THEN 'junked'
            WHEN svc LIKE '%quarantine%' THEN 'quarantined'
            WHEN svc = 'gmail-ui' THEN 'delivered'
            WHEN svc LIKE 'smtp-outbound%' THEN 'relayed'
            ELSE 'received'
        END AS action
    FROM (
        SELECT *,
            TRY_CAST(trim(mail_event_type) AS INTEGER) AS met,
            lower(trim(coalesce(destination_service, ''))) AS svc,
            lower(trim(coalesce(success, ''))) IN ('false', '0') AS failed,
            lower(trim(coalesce(is_spam, ''))) IN ('true', '1') AS spam
        FROM raw_gmail_bigquery_json
    )
)
