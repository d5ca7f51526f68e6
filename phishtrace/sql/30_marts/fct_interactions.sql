-- Every interaction, judged human or automated (docs/outcomes.md §4). The first reason that holds is kept.
WITH i AS (
    SELECT i.*, s.delivery_reference_ts, s.delivery_reference, s.mail_delivered_ts,
           coalesce(s.status IN ('bounced', 'failed') OR s.bounced_at IS NOT NULL OR s.reject_hop IS NOT NULL
            OR (coalesce(s.filter_state IN ('quarantined', 'dropped'), false) AND NOT s.filter_superseded)
            OR (coalesce(s.server_state IN ('quarantined', 'junked', 'dropped'), false) AND NOT s.server_superseded),
            false) AS never_delivered
    FROM int_interactions i
    JOIN int_message_state s ON s.message_key = i.message_key
), burst AS (
    -- one address interacting with many recipients within a few seconds
    SELECT a.customer, a.client_ip, a.event_ts
    FROM i a
    JOIN i b ON b.customer = a.customer AND b.client_ip = a.client_ip
            AND abs(epoch(b.event_ts) - epoch(a.event_ts)) <= CAST(pt_var('pt_burst_seconds', 10) AS DOUBLE)
    WHERE a.client_ip IS NOT NULL AND a.client_ip <> ''
    GROUP BY a.customer, a.client_ip, a.event_ts
    HAVING count(DISTINCT b.recipient) >= CAST(pt_var('pt_burst_recipients', 3) AS BIGINT)
), scanners AS (
    SELECT CAST(NULL AS VARCHAR) AS customer, kind, pattern, label FROM ref_scanners
    UNION ALL
    SELECT customer, kind, pattern, label FROM customer_scanners
), judged AS (
    -- known scanners: the shipped list (ref_scanners) and the customer's own (customer_scanners)
    SELECT i.*,
           (SELECT min(label) FROM scanners r
             WHERE (r.customer IS NULL OR r.customer = i.customer) AND i.client_ip IS NOT NULL
               AND ((r.kind = 'ip_prefix' AND starts_with(i.client_ip, r.pattern))
                    OR (r.kind = 'ip_cidr' AND coalesce(pt_ipv4_in_cidr(i.client_ip, r.pattern), false)))) AS scanner_ip,
           (SELECT min(label) FROM scanners r
             WHERE (r.customer IS NULL OR r.customer = i.customer) AND r.kind = 'user_agent' AND i.user_agent IS NOT NULL
               AND strpos(lower(i.user_agent), lower(r.pattern)) > 0) AS scanner_ua,
           EXISTS (SELECT 1 FROM burst b WHERE b.customer = i.customer AND b.client_ip = i.client_ip
                   AND b.event_ts = i.event_ts) AS in_burst,
           epoch(i.event_ts) - epoch(i.delivery_reference_ts) AS seconds_after_delivery
    FROM i
)
SELECT message_key, customer, campaign, run, recipient, kind, event_ts, client_ip, user_agent, detail,
       source_format, load_id, source_row, blocked, delivery_reference, delivery_reference_ts,
       seconds_after_delivery,
       CASE WHEN kind = 'reported' THEN NULL
            WHEN never_delivered THEN 'never_delivered'
            WHEN mail_delivered_ts IS NOT NULL AND event_ts < mail_delivered_ts THEN 'before_delivery'
            WHEN seconds_after_delivery IS NOT NULL
                 AND seconds_after_delivery <= CAST(pt_var('pt_scanner_seconds', 60) AS DOUBLE) THEN 'within_seconds'
            WHEN scanner_ip IS NOT NULL THEN 'scanner_ip: ' || scanner_ip
            WHEN scanner_ua IS NOT NULL THEN 'scanner_ua: ' || scanner_ua
            WHEN in_burst THEN 'burst'
       END AS automated_reason,
       kind <> 'reported' AND coalesce(never_delivered
            OR (mail_delivered_ts IS NOT NULL AND event_ts < mail_delivered_ts)
            OR (seconds_after_delivery IS NOT NULL
                AND seconds_after_delivery <= CAST(pt_var('pt_scanner_seconds', 60) AS DOUBLE))
            OR scanner_ip IS NOT NULL OR scanner_ua IS NOT NULL OR in_burst, false) AS automated
FROM judged
