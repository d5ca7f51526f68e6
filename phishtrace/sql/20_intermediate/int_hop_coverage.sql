-- For each message and each hop: whether the customer has loaded logs of that hop at all, and whether one of
-- those loads covers the time the message was sent (window_start - 5 min <= sent <= window_end); and, when
-- loaded logs do not cover it, until when the vendors whose retention is known (ref_retention) still have
-- the logs of the send time.
WITH hops AS (
    SELECT * FROM (VALUES ('filter', 1), ('server', 2), ('mailbox', 3)) AS h(hop, hop_order)
), kept AS (
    SELECT DISTINCT l.customer, l.hop, r.format, r.days, r.how
    FROM load_manifest l JOIN ref_retention r ON r.format = l.format
), cov AS (
    SELECT m.message_key, m.customer, m.sent_ts, h.hop, h.hop_order,
           EXISTS (SELECT 1 FROM load_manifest l WHERE l.customer = m.customer AND l.hop = h.hop) AS loaded,
           m.sent_ts IS NOT NULL AND EXISTS (
               SELECT 1 FROM load_manifest l
               WHERE l.customer = m.customer AND l.hop = h.hop
                 AND l.window_start - INTERVAL 5 MINUTE <= m.sent_ts AND m.sent_ts <= l.window_end) AS covered,
           (SELECT string_agg(DISTINCT l.format, ', ' ORDER BY l.format) FROM load_manifest l
             WHERE l.customer = m.customer AND l.hop = h.hop) AS formats,
           (SELECT string_agg(strftime(timezone('UTC', l.window_start), '%Y-%m-%d %H:%M') || ' to ' ||
                              strftime(timezone('UTC', l.window_end), '%Y-%m-%d %H:%M'), '; ' ORDER BY l.window_start)
              FROM load_manifest l WHERE l.customer = m.customer AND l.hop = h.hop) AS windows
    FROM int_messages m
    CROSS JOIN hops h
)
SELECT message_key, hop, hop_order, loaded, covered, formats, windows,
       CASE WHEN loaded AND NOT covered AND sent_ts IS NOT NULL THEN
           (SELECT string_agg(k.how || ': ' || k.format || ' logs of the send time can be fetched until '
                              || strftime(timezone('UTC', c.sent_ts + to_days(k.days)), '%Y-%m-%d'), '; '
                              ORDER BY k.format)
              FROM kept k WHERE k.customer = c.customer AND k.hop = c.hop)
       END AS fetch_note
FROM cov c
