-- Each message's state at each verdict hop (docs/outcomes.md §2): the decisive event of highest severity,
-- unless a release / redelivery at that hop came at or after it.
WITH top AS (
    SELECT message_key, verdict_hop, hop_order, action, location, event_ts, source_format, load_id,
           source_row, raw_status, reason, match_method, severity
    FROM int_matched_events
    WHERE severity IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY message_key, verdict_hop
                               ORDER BY severity DESC, event_ts DESC, source_row DESC) = 1
), rel AS (
    SELECT message_key, verdict_hop, max(event_ts) AS released_ts,
           arg_max(source_format, event_ts) AS rel_source, arg_max(source_row, event_ts) AS rel_row,
           arg_max(load_id, event_ts) AS rel_load, arg_max(raw_status, event_ts) AS rel_status,
           arg_max(reason, event_ts) AS rel_reason
    FROM int_matched_events
    WHERE is_release
    GROUP BY ALL
)
SELECT t.message_key, t.verdict_hop, t.hop_order,
       CASE WHEN r.released_ts IS NOT NULL AND r.released_ts >= t.event_ts AND t.severity > 4
            THEN CASE t.verdict_hop WHEN 'filter' THEN 'passed' ELSE 'delivered' END
            ELSE t.action END AS state,
       CASE WHEN r.released_ts IS NOT NULL AND r.released_ts >= t.event_ts AND t.severity > 4
            THEN 'inbox' ELSE t.location END AS location,
       CASE WHEN r.released_ts IS NOT NULL AND r.released_ts >= t.event_ts AND t.severity > 4
            THEN r.released_ts ELSE t.event_ts END AS state_ts,
       t.action AS top_action, t.event_ts AS top_ts,
       r.released_ts IS NOT NULL AND r.released_ts >= t.event_ts AND t.severity > 4 AS released,
       CASE WHEN r.released_ts >= t.event_ts AND t.severity > 4 THEN r.rel_source ELSE t.source_format END AS source_format,
       CASE WHEN r.released_ts >= t.event_ts AND t.severity > 4 THEN r.rel_load ELSE t.load_id END AS load_id,
       CASE WHEN r.released_ts >= t.event_ts AND t.severity > 4 THEN r.rel_row ELSE t.source_row END AS source_row,
       CASE WHEN r.released_ts >= t.event_ts AND t.severity > 4 THEN r.rel_status ELSE t.raw_status END AS raw_status,
       CASE WHEN r.released_ts >= t.event_ts AND t.severity > 4 THEN r.rel_reason ELSE t.reason END AS reason,
       t.match_method
FROM top t
LEFT JOIN rel r ON r.message_key = t.message_key AND r.verdict_hop = t.verdict_hop
