-- Campaign-level warnings (DESIGN §4.4): scheduling stalled; recipients still Sent long after their peers were
-- delivered (likely quarantine); automated-click share; the human interaction rate or the automated share of
-- interactions jumping against the previous run of the campaign (allowlisting broke); bounces concentrated on
-- one domain; the simulation's URL classified as a threat by
-- Proofpoint TAP (a clean simulation never appears in TAP, so any record there means URL Defense will block
-- or rewrite its link until it is allowlisted).
WITH o AS (SELECT * FROM fct_recipient_outcomes),
runs AS (
    SELECT customer, campaign, run, min(sent_at) AS run_first_sent,
           count(*) AS targeted,
           count(*) FILTER (WHERE outcome = 'scheduling_stalled') AS stalled,
           count(*) FILTER (WHERE platform_status_normalised = 'sent' AND platform_delivered_at IS NULL
                             AND sent_at < as_of - INTERVAL 1 HOUR) AS still_sent,
           count(*) FILTER (WHERE platform_delivered_at IS NOT NULL) AS platform_delivered,
           sum(automated_interactions) AS automated,
           count(*) FILTER (WHERE automated_interactions > 0) AS automated_recipients,
           sum(automated_interactions + human_interactions) AS interactions,
           count(*) FILTER (WHERE outcome = 'interacted') AS human,
           count(*) FILTER (WHERE sent_at IS NOT NULL) AS sent
    FROM o GROUP BY ALL
), ranked AS (
    SELECT *, lag(rate) OVER w AS prev_rate, lag(automated_share) OVER w AS prev_automated_share
    FROM (SELECT *, CASE WHEN sent > 0 THEN human / sent END AS rate,
                 CASE WHEN interactions > 0 THEN automated / interactions END AS automated_share
          FROM runs)
    WINDOW w AS (PARTITION BY customer, campaign ORDER BY run_first_sent NULLS LAST, run)
), tap AS (
    SELECT m.customer, m.campaign, m.run, count(DISTINCT e.message_key) AS recipients,
           string_agg(DISTINCT regexp_extract(e.reason, 'tap_threat:([A-Za-z_]+)', 1), ', ') AS classes
    FROM int_matched_events e
    JOIN int_messages m ON m.message_key = e.message_key
    WHERE e.source_format = 'proofpoint_tap_json' AND e.reason LIKE '%tap_threat:%'
    GROUP BY ALL
), domains AS (
    SELECT customer, campaign, run, pt_domain(recipient) AS domain, count(*) AS n,
           count(*) FILTER (WHERE outcome = 'bounced') AS bounced
    FROM o GROUP BY ALL
)
SELECT customer, campaign, run, 'scheduling_stalled' AS alert, 'high' AS severity, stalled AS recipients,
       stalled || ' recipient(s) still Scheduling more than ' || CAST(pt_var('pt_stall_minutes', 10) AS VARCHAR) ||
       ' min after the run started: every learner may be in a bounced status.' AS detail
FROM runs WHERE stalled > 0
UNION ALL
SELECT customer, campaign, run, 'still_sent', 'medium', still_sent,
       still_sent || ' recipient(s) are still Sent more than an hour after sending while ' || platform_delivered ||
       ' peer(s) were Delivered: a mail security service may be holding them.'
FROM runs WHERE still_sent > 0 AND platform_delivered > 0
UNION ALL
SELECT customer, campaign, run, 'automated_interactions', CASE WHEN automated >= 0.5 * interactions THEN 'high' ELSE 'medium' END,
       automated_recipients,
       CAST(automated AS BIGINT) || ' of ' || CAST(interactions AS BIGINT) || ' interactions (' ||
       CAST(round(100.0 * automated / interactions) AS BIGINT) ||
       ' %) look automated (link scanners): review allowlisting so scanners do not inflate results.'
FROM runs WHERE interactions > 0 AND automated > 0
UNION ALL
SELECT customer, campaign, run, 'phish_rate_jump', 'medium', CAST(human AS BIGINT),
       'human interaction rate ' || CAST(round(100 * rate) AS BIGINT) || ' % against ' ||
       CAST(round(100 * prev_rate) AS BIGINT) || ' % in the previous run: check allowlisting and scanner exclusions.'
FROM ranked WHERE pt_jumped(rate, prev_rate)
UNION ALL
SELECT customer, campaign, run, 'automated_share_jump', 'high', automated_recipients,
       CAST(round(100 * automated_share) AS BIGINT) || ' % of interactions look automated against ' ||
       CAST(round(100 * prev_automated_share) AS BIGINT) || ' % in the previous run: link scanners now reach the '
       || 'simulation; check allowlisting and scanner exclusions before reading this run''s results.'
FROM ranked WHERE pt_jumped(automated_share, prev_automated_share)
UNION ALL
SELECT customer, campaign, run, 'bounce_concentration', 'medium', bounced,
       bounced || ' of ' || n || ' recipients at ' || domain || ' bounced: check that domain''s mail filter or routing.'
FROM domains WHERE bounced >= 3 AND bounced >= 0.5 * n
UNION ALL
SELECT customer, campaign, run, 'url_threat_classified', 'high', recipients,
       'Proofpoint TAP classified the simulation''s URL as a threat (' || coalesce(classes, 'unknown') || ') for ' ||
       recipients || ' recipient(s): add the simulation URLs to URL Defense exceptions, or TAP keeps blocking them.'
FROM tap
