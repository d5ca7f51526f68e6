-- Seconds per transition summed up per customer x campaign x run: recipients with both times, mean,
-- median, p90 and p99 (linear interpolation, as the report's latency chart), fastest and slowest.
-- The per-recipient rows are fct_hop_latency.
SELECT customer, campaign, run, transition_order, transition,
       count(*) AS recipients,
       avg(seconds) AS mean_seconds,
       quantile_cont(seconds, 0.5) AS median_seconds,
       quantile_cont(seconds, 0.9) AS p90_seconds,
       quantile_cont(seconds, 0.99) AS p99_seconds,
       min(seconds) AS min_seconds,
       max(seconds) AS max_seconds
FROM fct_hop_latency
GROUP BY customer, campaign, run, transition_order, transition
