-- Every mail event matched to at most one campaign message (docs/outcomes.md §1):
-- 1. message_id / token (int_matches_strong);
-- 2. recipient_window: same recipient, event within [sent - pt_window_before_minutes, sent + pt_window_hours],
--    sender among the campaign's senders when any are known, subject equal when both sides have one;
--    the message sent latest at or before the event wins;
-- 3. events without their own match that share a Message-ID or vendor id (and recipient) with a matched
--    event inherit its message and method.
-- (ev and undecided are read where used, not materialised: materialising every event's columns wrote
-- gigabytes to disk at millions of events)
WITH ev AS NOT MATERIALIZED (
    SELECT event_id, customer, recipient, event_ts, sender, subject, message_id, vendor_id
    FROM int_mail_events WHERE action <> 'rule_created'
), strong AS (
    SELECT event_id, message_key, match_method, 'exact' AS match_basis FROM int_matches_strong
), campaign_has_senders AS (
    SELECT DISTINCT customer, campaign FROM int_campaign_senders
), window_cand AS (
    SELECT e.event_id, m.message_key, m.sent_ts,
           CASE WHEN hs.campaign IS NOT NULL THEN 'sender'
                WHEN e.subject IS NOT NULL AND m.subject IS NOT NULL THEN 'subject'
                ELSE 'nearest' END AS match_basis
    FROM ev e
    JOIN int_messages m ON m.customer = e.customer AND m.recipient = e.recipient
    LEFT JOIN campaign_has_senders hs ON hs.customer = m.customer AND hs.campaign = m.campaign
    WHERE m.sent_ts IS NOT NULL
      AND e.event_id NOT IN (SELECT event_id FROM strong)
      AND e.event_ts >= m.sent_ts - to_minutes(CAST(pt_var('pt_window_before_minutes', 5) AS BIGINT))
      AND e.event_ts <= m.sent_ts + to_hours(CAST(pt_var('pt_window_hours', 72) AS BIGINT))
      AND (e.subject IS NULL OR m.subject IS NULL OR lower(trim(e.subject)) = lower(trim(m.subject)))
      AND (hs.campaign IS NULL OR EXISTS (
            SELECT 1 FROM int_campaign_senders s
            WHERE s.customer = m.customer AND s.campaign = m.campaign
              AND e.sender IS NOT NULL
              AND (s.sender = e.sender OR s.sender_domain = pt_domain(e.sender))))
), windowed AS (
    SELECT event_id, message_key, 'recipient_window' AS match_method, match_basis
    FROM window_cand
    QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY sent_ts DESC, message_key) = 1
), direct AS (
    SELECT * FROM strong UNION ALL SELECT * FROM windowed
), direct_events AS (
    -- (equi-joins on Message-ID and on vendor id, from the few matched events: an OR join of every event
    -- with every event would be quadratic)
    SELECT de.customer, de.recipient, de.message_id, de.vendor_id, d.message_key, d.match_method
    FROM int_mail_events de
    JOIN direct d ON d.event_id = de.event_id
), undecided AS NOT MATERIALIZED (
    SELECT event_id, customer, recipient, message_id, vendor_id FROM ev WHERE event_id NOT IN (SELECT event_id FROM direct)
), link_cand AS (
    SELECT e.event_id, e.recipient, x.recipient AS linked_recipient, x.message_key, x.match_method
    FROM undecided e
    JOIN direct_events x ON x.customer = e.customer AND x.message_id = e.message_id
    UNION ALL
    SELECT e.event_id, e.recipient, x.recipient AS linked_recipient, x.message_key, x.match_method
    FROM undecided e
    JOIN direct_events x ON x.customer = e.customer AND x.vendor_id = e.vendor_id
), linked AS (
    SELECT event_id, message_key, match_method, 'linked' AS match_basis
    FROM link_cand
    WHERE linked_recipient = recipient OR recipient IS NULL OR linked_recipient IS NULL
    QUALIFY row_number() OVER (PARTITION BY event_id
                               ORDER BY CASE match_method WHEN 'message_id' THEN 1 WHEN 'token' THEN 2 ELSE 3 END,
                                        message_key) = 1
)
SELECT event_id, message_key, match_method, match_basis FROM direct
UNION ALL
SELECT event_id, message_key, match_method, match_basis FROM linked
