-- Matched mail events with their message and the ranking used to decide each hop's state.
SELECT e.*, mt.message_key, mt.match_method, mt.match_basis,
       CASE e.verdict_hop WHEN 'filter' THEN 1 WHEN 'server' THEN 2 WHEN 'mailbox' THEN 3 ELSE 0 END AS hop_order,
       CASE e.action
           WHEN 'deferred' THEN 1 WHEN 'relayed' THEN 2 WHEN 'passed' THEN 3 WHEN 'delivered' THEN 4
           WHEN 'junked' THEN 5 WHEN 'moved_by_rule' THEN 5 WHEN 'dropped' THEN 6
           WHEN 'removed_post_delivery' THEN 6 WHEN 'quarantined' THEN 7
           WHEN 'rejected' THEN 8 WHEN 'bounced' THEN 8 END AS severity,
       e.action IN ('released', 'redelivered') AS is_release
FROM int_mail_events e
JOIN int_matches mt ON mt.event_id = e.event_id
