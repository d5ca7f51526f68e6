-- For each message and each hop: whether the customer has loaded logs of that hop at all, and whether one of
-- those loads covers the time the message was sent (window_start - 5 min <= sent <= window_end); and, for
-- the loaded sources whose vendor retention is known (ref_retention), until when the logs of the send
-- time can still be fetched.
WITH hops AS (
    SELECT * FROM (VALUES ('filter', 1), ('server', 2), ('mailbox', 3)) AS h(hop, hop_order)
)
SELECT m.message_key, h.hop, h.hop_order,
       EXISTS (SELECT 1 FROM load_manifest l WHERE l.customer = m.customer AND l.hop = h.hop) AS loaded,
       m.sent_ts IS NOT NULL AND EXISTS (
           SELECT 1 FROM load_manifest l
           WHERE l.customer = m.customer AND l.hop = h.hop
             AND l.window_start - INTERVAL 5 MINUTE <= m.sent_ts AND m.sent_ts <= l.window_end) AS covered,
       (SELECT string_agg(DISTINCT l.format, ', ' ORDER BY l.format) FROM load_manifest l
         WHERE l.customer = m.customer AND l.hop = h.hop) AS formats,
       (SELECT string_agg(strftime(timezone('UTC', l.window_start), '%Y-%m-%d %H:%M') || ' to ' ||
                          strftime(timezone('UTC', l.window_end), '%Y-%m-%d %H:%M'), '; ' ORDER BY l.window_start)
          FROM load_manifest l WHERE l.customer = m.customer AND l.hop = h.hop) AS windows,
       CASE WHEN m.sent_ts IS NOT NULL THEN
           (SELECT string_agg(r.how || ': ' || r.format || ' logs of the send time can be fetched until '
                              || strftime(timezone('UTC', m.sent_ts + to_days(r.days)), '%Y-%m-%d'), '; '
                              ORDER BY r.format)
              FROM ref_retention r
             WHERE r.format IN (SELECT l.format FROM load_manifest l WHERE l.customer = m.customer AND l.hop = h.hop))
       END AS fetch_note
FROM int_messages m
CROSS JOIN hops h
