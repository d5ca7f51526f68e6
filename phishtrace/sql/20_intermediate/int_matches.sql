-- Every mail event matched to at most one campaign message (docs/outcomes.md §1):
-- 1. message_id / token (int_matches_strong);
-- 2. recipient_window: same recipient, event within [sent - pt_window_before_minutes, sent + pt_window_hours],
--    sender among the campaign's senders when any are known, subject equal when both sides have one;
--    the message sent latest at or before the event wins;
-- 3. events without their own match that share a Message-ID or vendor id (and recipient) with a matched
--    event inherit its message and method.
WITH ev AS (
    SELECT * FROM int_mail_events WHERE action <> 'rule_created'
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
), linked AS (
    SELECT e.event_id, d.message_key, d.match_method, 'linked' AS match_basis
    FROM ev e
    JOIN int_mail_events de ON de.customer = e.customer
         AND (de.recipient = e.recipient OR e.recipient IS NULL OR de.recipient IS NULL)
         AND ((e.message_id IS NOT NULL AND de.message_id = e.message_id)
              OR (e.vendor_id IS NOT NULL AND de.vendor_id = e.vendor_id))
    JOIN direct d ON d.event_id = de.event_id
    WHERE e.event_id NOT IN (SELECT event_id FROM direct)
    QUALIFY row_number() OVER (PARTITION BY e.event_id
                               ORDER BY CASE d.match_method WHEN 'message_id' THEN 1 WHEN 'token' THEN 2 ELSE 3 END,
                                        d.message_key) = 1
)
SELECT event_id, message_key, match_method, match_basis FROM direct
UNION ALL
SELECT event_id, message_key, match_method, match_basis FROM linked
