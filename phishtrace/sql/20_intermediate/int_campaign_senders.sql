-- A campaign's known senders: the export's Sender values, the senders of events matched by Message-ID or
-- token, and the addresses or domains given with `ingest --sender`.
SELECT DISTINCT customer, campaign, sender, pt_domain(sender) AS sender_domain, origin
FROM (
    SELECT customer, campaign, sender, 'export' AS origin FROM int_messages WHERE sender IS NOT NULL
    UNION ALL
    SELECT m.customer, m.campaign, e.sender, 'matched_event'
    FROM int_matches_strong s
    JOIN int_mail_events e ON e.event_id = s.event_id
    JOIN int_messages m ON m.message_key = s.message_key
    WHERE e.sender IS NOT NULL AND e.hop <> 'platform'
    UNION ALL
    SELECT c.customer, c.campaign, cs.sender, 'configured'
    FROM customer_senders cs
    JOIN (SELECT DISTINCT customer, campaign FROM int_messages) c ON c.customer = cs.customer
)
