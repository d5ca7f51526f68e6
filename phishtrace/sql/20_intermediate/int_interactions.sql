-- Interactions with a campaign message: those the platform recorded, and clicks that filter logs matched
-- to the message (URL rewriting services such as TAP or Mimecast URL Protect). When a platform gave both a
-- summary (GoPhish results CSV: last hit only) and its event history (events CSV / API timeline) for the same
-- message, the history is kept and the summary dropped, so nothing is counted twice.
WITH platform AS (
    SELECT m.message_key, p.customer, p.campaign, p.run, p.recipient, p.kind, p.event_ts, p.client_ip,
           p.user_agent, p.detail, p.source_format, p.load_id, p.source_row, false AS blocked
    FROM int_platform_interactions p
    JOIN int_messages m ON m.customer = p.customer AND m.campaign = p.campaign AND m.run = p.run
                       AND m.recipient = p.recipient
    WHERE p.event_ts IS NOT NULL
), has_history AS (
    SELECT DISTINCT message_key FROM platform WHERE source_format IN ('gophish_events_csv', 'gophish_api_json')
)
SELECT * FROM platform
WHERE NOT (source_format = 'gophish_results_csv' AND message_key IN (SELECT message_key FROM has_history))
QUALIFY row_number() OVER (PARTITION BY message_key, kind, event_ts, coalesce(client_ip, ''), coalesce(user_agent, '')
                           ORDER BY source_format, load_id, source_row) = 1
UNION ALL
SELECT e.message_key, m.customer, m.campaign, m.run, m.recipient, 'clicked' AS kind, e.event_ts, e.client_ip,
       e.user_agent, coalesce(e.url, e.reason) AS detail, e.source_format, e.load_id, e.source_row,
       e.action = 'clicked_blocked' AS blocked
FROM int_matched_events e
JOIN int_messages m ON m.message_key = e.message_key
WHERE e.action IN ('clicked', 'clicked_blocked')
