-- One row per message: platform facts, each hop's state, whether a later hop superseded an earlier
-- negative state (the message got past it although no release was logged), the mail-log delivery time,
-- and the latest reject / bounce.
WITH hs AS (
    SELECT message_key,
           max(CASE WHEN verdict_hop = 'filter' THEN state END) AS filter_state,
           max(CASE WHEN verdict_hop = 'filter' THEN state_ts END) AS filter_ts,
           max(CASE WHEN verdict_hop = 'server' THEN state END) AS server_state,
           max(CASE WHEN verdict_hop = 'server' THEN location END) AS server_location,
           max(CASE WHEN verdict_hop = 'server' THEN state_ts END) AS server_ts,
           max(CASE WHEN verdict_hop = 'mailbox' THEN state END) AS mailbox_state,
           max(CASE WHEN verdict_hop = 'mailbox' THEN location END) AS mailbox_location,
           max(CASE WHEN verdict_hop = 'mailbox' THEN state_ts END) AS mailbox_ts
    FROM int_hop_states
    GROUP BY message_key
), sup AS (
    -- a later hop's evidence after a negative state shows the message got past it (outcomes.md §2): for the
    -- filter any decisive server/mailbox event, for the server a mailbox (re)delivery
    SELECT hs.message_key,
           bool_or(e.verdict_hop IN ('server', 'mailbox') AND e.severity IS NOT NULL
                   AND e.event_ts > hs.filter_ts) AS filter_superseded,
           bool_or(e.verdict_hop = 'mailbox' AND e.action IN ('redelivered', 'delivered')
                   AND e.event_ts > hs.server_ts) AS server_superseded
    FROM hs
    JOIN int_matched_events e ON e.message_key = hs.message_key
    GROUP BY hs.message_key
), ev AS (
    SELECT message_key,
           min(CASE WHEN verdict_hop IN ('server', 'mailbox') AND action IN ('delivered', 'junked', 'moved_by_rule', 'redelivered')
                    THEN event_ts END) AS mail_delivered_ts,
           min(event_ts) FILTER (WHERE verdict_hop = 'filter') AS first_filter_ts,
           min(event_ts) FILTER (WHERE verdict_hop = 'server') AS first_server_ts,
           min(event_ts) FILTER (WHERE verdict_hop = 'mailbox') AS first_mailbox_ts,
           max(event_ts) AS last_event_ts,
           max(hop_order) FILTER (WHERE action NOT IN ('clicked', 'clicked_blocked')) AS last_hop_order,
           count(*) AS matched_events,
           min(CASE match_method WHEN 'message_id' THEN 1 WHEN 'token' THEN 2 ELSE 3 END) AS best_method
    FROM int_matched_events
    GROUP BY message_key
), rej AS (
    SELECT message_key, verdict_hop AS reject_hop, event_ts AS reject_ts, source_format AS reject_source,
           load_id AS reject_load, source_row AS reject_row, raw_status AS reject_status, reason AS reject_reason
    FROM int_matched_events
    WHERE action IN ('rejected', 'bounced')
    QUALIFY row_number() OVER (PARTITION BY message_key ORDER BY hop_order DESC, event_ts DESC) = 1
)
SELECT m.*,
       hs.filter_state, hs.filter_ts, hs.server_state, hs.server_location, hs.server_ts,
       hs.mailbox_state, hs.mailbox_location, hs.mailbox_ts,
       coalesce(sup.filter_superseded, false) AS filter_superseded,
       coalesce(sup.server_superseded, false) AS server_superseded,
       ev.mail_delivered_ts, ev.first_filter_ts, ev.first_server_ts, ev.first_mailbox_ts, ev.last_event_ts,
       ev.last_hop_order, coalesce(ev.matched_events, 0) AS matched_events,
       CASE ev.best_method WHEN 1 THEN 'message_id' WHEN 2 THEN 'token' WHEN 3 THEN 'recipient_window' END AS match_method,
       rej.reject_hop, rej.reject_ts, rej.reject_source, rej.reject_load, rej.reject_row, rej.reject_status,
       rej.reject_reason,
       coalesce(ev.mail_delivered_ts, m.delivered_at, m.sent_ts) AS delivery_reference_ts,
       CASE WHEN ev.mail_delivered_ts IS NOT NULL THEN 'mail_log'
            WHEN m.delivered_at IS NOT NULL THEN 'platform_delivered'
            WHEN m.sent_ts IS NOT NULL THEN 'platform_sent' END AS delivery_reference
FROM int_messages m
LEFT JOIN hs ON hs.message_key = m.message_key
LEFT JOIN ev ON ev.message_key = m.message_key
LEFT JOIN sup ON sup.message_key = m.message_key
LEFT JOIN rej ON rej.message_key = m.message_key
