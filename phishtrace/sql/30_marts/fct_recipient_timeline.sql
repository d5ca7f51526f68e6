-- Everything known about each recipient in time order: platform facts, every mail event logged for the
-- address (matched to a message or not) and every interaction. Used by `phishtrace trace`.
SELECT m.customer, m.recipient, m.campaign, m.run, 'platform' AS hop, 0 AS hop_order, f.ts AS event_ts,
       f.what AS action, NULL AS location, m.source_format, m.source_row, m.load_id, m.platform_status AS raw_status,
       f.detail AS reason, true AS matched, 'platform' AS match_method
FROM int_messages m,
     (VALUES ('run_start', 'run started'), ('scheduled', NULL), ('sent', NULL), ('delivered', 'delivery notification'),
             ('bounced', NULL)) AS k(what, note),
     LATERAL (SELECT k.what AS what,
                     CASE k.what WHEN 'run_start' THEN m.run_start WHEN 'scheduled' THEN m.scheduled_at
                                 WHEN 'sent' THEN m.sent_at WHEN 'delivered' THEN m.delivered_at
                                 ELSE m.bounced_at END AS ts,
                     CASE WHEN k.what = 'bounced' THEN m.bounce_reason ELSE k.note END AS detail) f
WHERE f.ts IS NOT NULL
UNION ALL
SELECT e.customer, e.recipient, m.campaign, m.run, e.hop,
       CASE e.hop WHEN 'filter' THEN 1 WHEN 'server' THEN 2 WHEN 'mailbox' THEN 3 ELSE 0 END,
       e.event_ts, e.action, e.location, e.source_format, e.source_row, e.load_id, e.raw_status, e.reason,
       mt.message_key IS NOT NULL, mt.match_method
FROM int_mail_events e
LEFT JOIN int_matches mt ON mt.event_id = e.event_id
LEFT JOIN int_messages m ON m.message_key = mt.message_key
UNION ALL
SELECT i.customer, i.recipient, i.campaign, i.run, 'interaction', 4, i.event_ts,
       i.kind || CASE WHEN i.automated THEN ' (automated)' WHEN i.kind = 'reported' THEN '' ELSE ' (human)' END,
       NULL, i.source_format, i.source_row, i.load_id, NULL,
       concat_ws('; ', i.automated_reason, i.client_ip, i.user_agent, i.detail), true, NULL
FROM fct_interactions i
