-- Per customer x hop x source: what was loaded, the time range covered, and the share of sent messages that
-- source matched. Hops without any loaded source appear with loaded = false, so gaps are visible. Where the
-- vendor's retention is known (ref_retention), until when the logs of the first send can be fetched.
WITH loads AS (
    SELECT customer, hop, format AS source_format, count(*) AS files, sum(rows_loaded) AS rows_loaded,
           sum(rows_rejected) AS rows_rejected, min(window_start) AS window_start, max(window_end) AS window_end,
           string_agg(DISTINCT tz_assumption, '; ') AS tz_assumption
    FROM load_manifest
    GROUP BY ALL
), sent AS (
    SELECT customer, count(*) FILTER (WHERE sent_ts IS NOT NULL) AS sent_messages,
           min(sent_ts) AS first_sent, max(sent_ts) AS last_sent
    FROM int_messages GROUP BY customer
), matched AS (
    SELECT e.customer, e.source_format, count(DISTINCT e.message_key) AS matched_messages
    FROM int_matched_events e GROUP BY ALL
), hops AS (
    SELECT c.customer, h.hop, h.hop_order
    FROM (SELECT DISTINCT customer FROM load_manifest) c
    CROSS JOIN (VALUES ('platform', 0), ('filter', 1), ('server', 2), ('mailbox', 3)) AS h(hop, hop_order)
)
SELECT h.customer, h.hop, h.hop_order, l.source_format, l.source_format IS NOT NULL AS loaded,
       coalesce(l.files, 0) AS files, coalesce(l.rows_loaded, 0) AS rows_loaded, coalesce(l.rows_rejected, 0) AS rows_rejected,
       l.window_start, l.window_end, l.tz_assumption,
       s.sent_messages, s.first_sent, s.last_sent,
       coalesce(m.matched_messages, 0) AS matched_messages,
       CASE WHEN h.hop = 'platform' THEN NULL
            WHEN s.sent_messages > 0 THEN round(coalesce(m.matched_messages, 0) / s.sent_messages, 4) END AS matched_share,
       CASE WHEN l.source_format IS NULL OR h.hop = 'platform' THEN NULL
            WHEN l.window_end < s.last_sent THEN 'ends before the last message was sent'
            WHEN l.window_start > s.first_sent + INTERVAL 5 MINUTE THEN 'starts after the first message was sent'
            ELSE 'covers every send time' END AS window_note,
       r.days AS retention_days, r.how AS retention,
       s.first_sent + to_days(r.days) AS first_send_fetchable_until
FROM hops h
LEFT JOIN loads l ON l.customer = h.customer AND l.hop = h.hop
LEFT JOIN sent s ON s.customer = h.customer
LEFT JOIN matched m ON m.customer = h.customer AND m.source_format = l.source_format
LEFT JOIN ref_retention r ON r.format = l.source_format
