-- Mail events matched to a campaign message by Message-ID (recipient equal, or the event has none)
-- or by the per-recipient link token. Each event matches at most one message.
WITH ev AS NOT MATERIALIZED (  -- (read where used: materialising every event's columns is costly)
    SELECT event_id, customer, recipient, event_ts, message_id, token
    FROM int_mail_events WHERE action <> 'rule_created'
), cand AS (
    SELECT e.event_id, m.message_key, 'message_id' AS match_method, 1 AS pri, e.event_ts, m.sent_ts
    FROM ev e
    JOIN int_messages m ON m.customer = e.customer AND m.message_id = e.message_id
    WHERE e.message_id IS NOT NULL AND (e.recipient IS NULL OR e.recipient = m.recipient)
    UNION ALL
    SELECT e.event_id, m.message_key, 'token', 2, e.event_ts, m.sent_ts
    FROM ev e
    JOIN int_messages m ON m.customer = e.customer AND m.token = e.token
    WHERE e.token IS NOT NULL
)
SELECT event_id, message_key, match_method
FROM cand
QUALIFY row_number() OVER (PARTITION BY event_id
                           ORDER BY pri, abs(epoch(event_ts) - epoch(coalesce(sent_ts, event_ts))), message_key) = 1
