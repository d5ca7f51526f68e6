-- Delivery funnel per customer x campaign x run: targeted -> sent -> passed filter -> accepted by server ->
-- in inbox -> human interaction. A recipient counts at a stage only with evidence that it got there.
-- raw_interaction_rate counts every recipient with any interaction, as a platform that does not tell
-- people from link scanners would; human_interaction_rate is the bot-adjusted rate beside it.
WITH o AS (SELECT * FROM fct_recipient_outcomes)
SELECT customer, campaign, run,
       count(*) AS targeted,
       count(*) FILTER (WHERE sent_at IS NOT NULL) AS sent,
       count(*) FILTER (WHERE sent_at IS NOT NULL AND stuck_at NOT IN ('platform', 'filter')) AS passed_filter,
       count(*) FILTER (WHERE outcome IN ('server_quarantined', 'server_junked', 'removed_after_delivery',
                                          'moved_by_rule', 'interacted', 'delivered')
                           OR (outcome = 'unverified' AND stuck_at IN ('server', 'mailbox'))) AS accepted_by_server,
       count(*) FILTER (WHERE outcome IN ('interacted', 'delivered')) AS in_inbox,
       count(*) FILTER (WHERE outcome = 'interacted') AS human_interaction,
       count(*) FILTER (WHERE automated_interactions > 0) AS automated_interaction,
       count(*) FILTER (WHERE automated_interactions + human_interactions > 0) AS any_interaction,
       count(*) FILTER (WHERE outcome = 'scheduling_stalled') AS scheduling_stalled,
       count(*) FILTER (WHERE outcome = 'held_bounced_learner') AS held_bounced_learner,
       count(*) FILTER (WHERE outcome = 'bounced') AS bounced,
       count(*) FILTER (WHERE outcome = 'filter_quarantined') AS filter_quarantined,
       count(*) FILTER (WHERE outcome = 'filter_deferred') AS filter_deferred,
       count(*) FILTER (WHERE outcome = 'server_quarantined') AS server_quarantined,
       count(*) FILTER (WHERE outcome = 'server_junked') AS server_junked,
       count(*) FILTER (WHERE outcome = 'server_failed') AS server_failed,
       count(*) FILTER (WHERE outcome = 'removed_after_delivery') AS removed_after_delivery,
       count(*) FILTER (WHERE outcome = 'moved_by_rule') AS moved_by_rule,
       count(*) FILTER (WHERE outcome = 'unverified') AS unverified,
       round(count(*) FILTER (WHERE sent_at IS NOT NULL) / count(*), 4) AS sent_rate,
       round(count(*) FILTER (WHERE outcome IN ('interacted', 'delivered')) / count(*), 4) AS inbox_rate,
       round(count(*) FILTER (WHERE automated_interactions + human_interactions > 0) / count(*), 4) AS raw_interaction_rate,
       round(count(*) FILTER (WHERE outcome = 'interacted') / count(*), 4) AS human_interaction_rate
FROM o
GROUP BY customer, campaign, run
