-- Mail events that look like the simulation but matched no campaign message: sent by one of a campaign's
-- known senders (address or domain; int_campaign_senders) or carrying one of its subjects. They show
-- recipients the export does not know (an alias, a distribution list member, a forwarded copy) and mail
-- logged outside the matching window. One row per event and campaign it resembles.
WITH unmatched AS (
    SELECT e.*
    FROM int_mail_events e
    WHERE e.action <> 'rule_created'
      AND NOT EXISTS (SELECT 1 FROM int_matches mt WHERE mt.event_id = e.event_id)
), senders AS (
    SELECT DISTINCT customer, campaign, sender, sender_domain FROM int_campaign_senders
), subjects AS (
    SELECT DISTINCT customer, campaign, lower(trim(subject)) AS subject FROM int_messages WHERE subject IS NOT NULL
), resembles AS (
    SELECT u.event_id, s.campaign, 'campaign sender' AS looks_like
    FROM unmatched u
    JOIN senders s ON s.customer = u.customer AND u.sender IS NOT NULL
                  AND (s.sender = u.sender OR s.sender_domain = pt_domain(u.sender))
    UNION
    SELECT u.event_id, t.campaign, 'campaign subject'
    FROM unmatched u
    JOIN subjects t ON t.customer = u.customer AND lower(trim(u.subject)) = t.subject
), judged AS (
    SELECT event_id, campaign, string_agg(looks_like, ' and ' ORDER BY looks_like) AS looks_like
    FROM resembles GROUP BY ALL
), known AS (
    SELECT DISTINCT customer, campaign, recipient FROM int_messages
)
SELECT u.customer, j.campaign, u.recipient, u.event_ts, u.hop, u.source_format, u.action, u.sender, u.subject,
       u.message_id, u.recipient_as_logged, j.looks_like,
       CASE WHEN u.recipient IS NULL THEN 'the event names no recipient'
            WHEN k.recipient IS NULL THEN 'recipient not in this campaign''s export: add an alias (ingest --aliases) '
                                          || 'or check who the simulation was sent to'
            ELSE 'recipient is in this campaign''s export: logged outside the matching window or for another '
                 || 'message (check the send time and --window-hours)' END AS likely_cause,
       u.load_id, u.source_row, u.event_id
FROM unmatched u
JOIN judged j ON j.event_id = u.event_id
LEFT JOIN known k ON k.customer = u.customer AND k.campaign = j.campaign AND k.recipient = u.recipient
