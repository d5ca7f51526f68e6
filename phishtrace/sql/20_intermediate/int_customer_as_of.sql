-- materialized: view
-- "Now" for judgements that depend on it: the session's pt_as_of, else the latest timestamp loaded per customer.
WITH stamps AS (
    SELECT customer, max(event_ts) AS ts FROM int_mail_events GROUP BY customer
    UNION ALL
    SELECT customer, max(greatest(run_start, scheduled_at, sent_at, delivered_at, bounced_at)) FROM int_messages GROUP BY customer
    UNION ALL
    SELECT customer, max(event_ts) FROM int_platform_interactions GROUP BY customer
)
SELECT customer, coalesce(CAST(getvariable('pt_as_of') AS TIMESTAMPTZ), max(ts)) AS as_of
FROM stamps
WHERE customer IS NOT NULL
GROUP BY customer
