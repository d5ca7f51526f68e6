-- Attack simulation training export times that record an interaction (formats.md §1.4): MessageRead →
-- opened; EmailLinkClicked, AttachmentLinkClicked, AttachmentOpened → clicked; CredSupplied →
-- entered_data; MessageReplied → replied; Phishing Reported On → reported. IP and user agent
-- ('Browser (Device)') come from the event's own _IP / _Browser / _Device columns; the detail names the
-- column and, for link clicks, the ClickSource (PhishingURL / QRCode). Deleted / forwarded are not
-- interactions.
SELECT
    CAST(r.customer AS VARCHAR) AS customer,
    CAST(r.load_id AS BIGINT) AS load_id,
    CAST('ms_ast_csv' AS VARCHAR) AS source_format,
    CAST(r.source_row AS BIGINT) AS source_row,
    CAST(r.campaign AS VARCHAR) AS campaign,
    CAST(r.run AS VARCHAR) AS run,
    CAST(pt_norm_addr(r.user_address) AS VARCHAR) AS recipient,
    CAST(k.kind AS VARCHAR) AS kind,
    CAST(k.event_ts AS TIMESTAMPTZ) AS event_ts,
    CAST(k.ip AS VARCHAR) AS client_ip,
    CAST(nullif(concat_ws(' ', k.browser, '(' || k.device || ')'), '') AS VARCHAR) AS user_agent,
    CAST(concat_ws('; ', k.label, k.extra) AS VARCHAR) AS detail
FROM raw_ms_ast_csv r,
     LATERAL (VALUES
         ('opened', r.message_read_ts, 'MessageRead', NULL, NULL, NULL, NULL),
         ('clicked', r.link_clicked_ts, 'EmailLinkClicked', r.link_clicked_ip, r.link_clicked_browser,
          r.link_clicked_device, 'ClickSource=' || r.click_source),
         ('clicked', r.attachment_link_clicked_ts, 'AttachmentLinkClicked', r.attachment_link_clicked_ip,
          r.attachment_link_clicked_browser, r.attachment_link_clicked_device, NULL),
         ('clicked', r.attachment_opened_ts, 'AttachmentOpened', r.attachment_opened_ip,
          r.attachment_opened_browser, r.attachment_opened_device, NULL),
         ('entered_data', r.cred_supplied_ts, 'CredSupplied', r.cred_supplied_ip, r.cred_supplied_browser,
          r.cred_supplied_device, NULL),
         ('replied', r.message_replied_ts, 'MessageReplied', NULL, NULL, NULL, NULL),
         ('reported', r.reported_ts, 'Phishing Reported On', NULL, NULL, NULL, NULL)
     ) AS k(kind, event_ts, label, ip, browser, device, extra)
WHERE k.event_ts IS NOT NULL AND pt_norm_addr(r.user_address) IS NOT NULL
