-- KnowBe4 recipient timestamps that record an interaction (formats.md §1.2): opened_at, clicked_at,
-- replied_at, data_entered_at (entered_data), attachment_opened_at / macro_enabled_at / qr_code_scanned
-- (clicked, the detail says which), reported_at. KnowBe4 keeps one ip / browser / os per recipient,
-- from the landing-page hit: they go with the clicked_at interaction only (user agent text
-- 'browser version (os)', e.g. 'Chrome 110 (mac)').
SELECT
    CAST(r.customer AS VARCHAR) AS customer,
    CAST(r.load_id AS BIGINT) AS load_id,
    CAST('knowbe4_recipients_json' AS VARCHAR) AS source_format,
    CAST(r.source_row AS BIGINT) AS source_row,
    CAST(r.campaign AS VARCHAR) AS campaign,
    CAST(r.run AS VARCHAR) AS run,
    CAST(pt_norm_addr(r.email) AS VARCHAR) AS recipient,
    CAST(k.kind AS VARCHAR) AS kind,
    CAST(k.event_ts AS TIMESTAMPTZ) AS event_ts,
    CAST(CASE WHEN k.web_hit THEN r.ip END AS VARCHAR) AS client_ip,
    CAST(CASE WHEN k.web_hit THEN nullif(concat_ws(' ', r.browser, r.browser_version, '(' || r.os || ')'), '')
         END AS VARCHAR) AS user_agent,
    CAST(concat_ws('; ', k.label, 'recipient_id=' || r.recipient_id,
                   CASE WHEN k.web_hit THEN 'ip_location=' || r.ip_location END) AS VARCHAR) AS detail
FROM raw_knowbe4_recipients_json r,
     LATERAL (VALUES
         ('opened', r.opened_at, 'opened_at', false),
         ('clicked', r.clicked_at, 'clicked_at', true),
         ('replied', r.replied_at, 'replied_at', false),
         ('clicked', r.attachment_opened_at, 'attachment opened (attachment_opened_at)', false),
         ('clicked', r.macro_enabled_at, 'macro enabled (macro_enabled_at)', false),
         ('clicked', r.qr_code_scanned, 'qr code (qr_code_scanned)', false),
         ('entered_data', r.data_entered_at, 'data_entered_at', false),
         ('reported', r.reported_at, 'reported_at', false)
     ) AS k(kind, event_ts, label, web_hit)
WHERE k.event_ts IS NOT NULL AND pt_norm_addr(r.email) IS NOT NULL
