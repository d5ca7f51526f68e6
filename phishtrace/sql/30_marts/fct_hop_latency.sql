-- Seconds between hops per recipient, one row per recipient and transition (long form, for distributions).
WITH o AS (SELECT * FROM fct_recipient_outcomes),
t AS (
    SELECT customer, campaign, run, recipient, outcome, 1 AS transition_order, 'scheduled_to_sent' AS transition,
           epoch(sent_at) - epoch(scheduled_at) AS seconds FROM o
    UNION ALL SELECT customer, campaign, run, recipient, outcome, 2, 'sent_to_filter', epoch(filter_ts) - epoch(sent_at) FROM o
    UNION ALL SELECT customer, campaign, run, recipient, outcome, 3, 'filter_to_server', epoch(server_ts) - epoch(filter_ts) FROM o
    UNION ALL SELECT customer, campaign, run, recipient, outcome, 4, 'server_to_mailbox', epoch(mailbox_ts) - epoch(server_ts) FROM o
    UNION ALL SELECT customer, campaign, run, recipient, outcome, 5, 'sent_to_delivered',
           epoch(mail_delivered_ts) - epoch(sent_at) FROM o
    UNION ALL SELECT customer, campaign, run, recipient, outcome, 6, 'delivered_to_first_human',
           epoch(first_human_ts) - epoch(coalesce(mail_delivered_ts, platform_delivered_at, sent_at)) FROM o
    UNION ALL SELECT customer, campaign, run, recipient, outcome, 7, 'delivered_to_first_automated',
           epoch(first_automated_ts) - epoch(coalesce(mail_delivered_ts, platform_delivered_at, sent_at)) FROM o
)
SELECT * FROM t WHERE seconds IS NOT NULL
