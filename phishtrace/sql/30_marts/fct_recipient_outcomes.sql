-- One row per customer x campaign x run x recipient: where the simulated email stopped, the evidence for
-- it and the next step (docs/outcomes.md §3; the first rule that applies wins).
WITH s AS (
    SELECT s.*, a.as_of
    FROM int_message_state s
    LEFT JOIN int_customer_as_of a ON a.customer = s.customer
), hop AS (
    SELECT * FROM int_hop_states
), inter AS (
    -- an open is not an interaction at all (a person's or a scanner's) when pt_count_opens is false: mail
    -- clients that fetch images themselves, such as Apple Mail Privacy Protection, open every message
    SELECT message_key,
           min(event_ts) FILTER (WHERE counted) AS first_human_ts,
           arg_min(kind, event_ts) FILTER (WHERE counted) AS first_human_kind,
           arg_min(source_format, event_ts) FILTER (WHERE counted) AS first_human_source,
           arg_min(source_row, event_ts) FILTER (WHERE counted) AS first_human_row,
           arg_min(load_id, event_ts) FILTER (WHERE counted) AS first_human_load,
           min(event_ts) FILTER (WHERE counted_automated) AS first_automated_ts,
           count(*) FILTER (WHERE counted) AS human_interactions,
           count(*) FILTER (WHERE counted_automated) AS automated_interactions,
           min(event_ts) FILTER (WHERE kind = 'reported') AS reported_at
    FROM (SELECT *, NOT automated AND kind <> 'reported' AND opens_count AS counted,
                 automated AND opens_count AS counted_automated
          FROM (SELECT *, kind <> 'opened' OR CAST(pt_var('pt_count_opens', true) AS BOOLEAN) AS opens_count
                FROM fct_interactions))
    GROUP BY message_key
), cov AS (
    SELECT message_key,
           bool_or(loaded) FILTER (WHERE hop = 'filter') AS filter_loaded,
           bool_or(covered) FILTER (WHERE hop = 'filter') AS filter_covered,
           any_value(formats) FILTER (WHERE hop = 'filter') AS filter_formats,
           any_value(windows) FILTER (WHERE hop = 'filter') AS filter_windows,
           any_value(fetch_note) FILTER (WHERE hop = 'filter') AS filter_fetch_note,
           bool_or(loaded) FILTER (WHERE hop = 'server') AS server_loaded,
           bool_or(covered) FILTER (WHERE hop = 'server') AS server_covered,
           any_value(formats) FILTER (WHERE hop = 'server') AS server_formats,
           any_value(windows) FILTER (WHERE hop = 'server') AS server_windows,
           any_value(fetch_note) FILTER (WHERE hop = 'server') AS server_fetch_note,
           bool_or(loaded) FILTER (WHERE hop = 'mailbox') AS mailbox_loaded,
           bool_or(covered) FILTER (WHERE hop = 'mailbox') AS mailbox_covered
    FROM int_hop_coverage
    GROUP BY message_key
), base AS (
    SELECT s.*, i.first_human_ts, i.first_human_kind, i.first_human_source, i.first_human_row, i.first_human_load,
           i.first_automated_ts, coalesce(i.human_interactions, 0) AS human_interactions,
           coalesce(i.automated_interactions, 0) AS automated_interactions, i.reported_at,
           c.filter_loaded, c.filter_covered, c.filter_formats, c.filter_windows, c.filter_fetch_note,
           c.server_loaded, c.server_covered, c.server_formats, c.server_windows, c.server_fetch_note,
           c.mailbox_loaded, c.mailbox_covered,
           r.event_ts AS rule_ts, r.reason AS rule_reason, r.source_format AS rule_source, r.source_row AS rule_row,
           r.load_id AS rule_load, r.location AS rule_location, r.matched_on AS rule_matched_on,
           CASE WHEN s.sent_ts IS NOT NULL THEN strftime(timezone('UTC', s.sent_ts - INTERVAL 5 MINUTE), '%Y-%m-%d %H:%M')
                || ' to ' || strftime(timezone('UTC', s.sent_ts + INTERVAL 1 DAY), '%Y-%m-%d %H:%M') || ' UTC' END AS sent_window
    FROM s
    LEFT JOIN inter i ON i.message_key = s.message_key
    LEFT JOIN cov c ON c.message_key = s.message_key
    LEFT JOIN int_rule_matches r ON r.message_key = s.message_key
), decided AS (
    SELECT b.*,
        CASE
            WHEN b.status = 'scheduling' AND b.sent_ts IS NULL AND b.matched_events = 0
                 AND b.as_of > coalesce(b.run_start, b.scheduled_at)
                               + to_minutes(CAST(pt_var('pt_stall_minutes', 10) AS BIGINT))
                THEN 'scheduling_stalled'
            WHEN b.status = 'scheduled' AND b.sent_ts IS NULL AND b.matched_events = 0
                 AND (b.learner_bounced
                      OR (b.run_end IS NOT NULL AND b.run_end < b.as_of)
                      OR b.as_of > coalesce(b.scheduled_at, b.run_start)
                                   + to_hours(CAST(pt_var('pt_held_hours', 24) AS BIGINT)))
                THEN 'held_bounced_learner'
            WHEN b.status IN ('bounced', 'failed') OR b.bounced_at IS NOT NULL OR b.reject_hop IS NOT NULL
                THEN 'bounced'
            WHEN b.filter_state IN ('quarantined', 'dropped') AND NOT b.filter_superseded THEN 'filter_quarantined'
            WHEN b.filter_state = 'deferred' AND NOT b.filter_superseded THEN 'filter_deferred'
            WHEN b.server_state = 'quarantined' AND NOT b.server_superseded THEN 'server_quarantined'
            WHEN b.server_state = 'junked' AND NOT b.server_superseded THEN 'server_junked'
            WHEN b.server_state = 'dropped' AND NOT b.server_superseded THEN 'server_failed'
            WHEN b.mailbox_state = 'removed_post_delivery' THEN 'removed_after_delivery'
            WHEN b.mailbox_state = 'moved_by_rule'
                 OR (b.server_state = 'delivered' AND b.server_location IN ('other_folder', 'deleted'))
                 OR (b.rule_ts IS NOT NULL AND coalesce(b.mailbox_state, '') NOT IN ('redelivered', 'delivered'))
                THEN 'moved_by_rule'
            WHEN b.first_human_ts IS NOT NULL THEN 'interacted'
            WHEN b.server_state = 'delivered' OR b.mailbox_state IN ('delivered', 'redelivered') THEN 'delivered'
            ELSE 'unverified'
        END AS outcome
    FROM base b
), placed AS (
    SELECT d.*,
        CASE d.outcome
            WHEN 'scheduling_stalled' THEN 'platform'
            WHEN 'held_bounced_learner' THEN 'platform'
            WHEN 'bounced' THEN coalesce(d.reject_hop, 'platform')
            WHEN 'filter_quarantined' THEN 'filter'
            WHEN 'filter_deferred' THEN 'filter'
            WHEN 'server_quarantined' THEN 'server'
            WHEN 'server_junked' THEN 'server'
            WHEN 'server_failed' THEN 'server'
            WHEN 'removed_after_delivery' THEN 'mailbox'
            WHEN 'moved_by_rule' THEN 'mailbox'
            WHEN 'interacted' THEN 'none'
            WHEN 'delivered' THEN 'none'
            ELSE CASE WHEN d.mailbox_state IS NOT NULL THEN 'mailbox'
                      WHEN d.server_state IS NOT NULL THEN 'server'
                      WHEN d.filter_state IS NOT NULL THEN 'filter'
                      ELSE 'platform' END
        END AS stuck_at,
        -- for 'unverified': the hop whose logs would settle it
        CASE WHEN d.server_state IS NOT NULL OR d.mailbox_state IS NOT NULL THEN 'server'
             WHEN d.filter_state IS NOT NULL THEN 'server'
             WHEN d.filter_loaded THEN 'filter'
             ELSE 'server' END AS next_hop
    FROM decided d
), evidence AS (
    -- the record behind each verdict, as one struct: which hop state, reject, rule or interaction decided it
    SELECT p.*,
        CASE
            WHEN p.outcome IN ('scheduling_stalled', 'held_bounced_learner') THEN pf
            WHEN p.outcome = 'bounced' THEN CASE WHEN p.reject_source IS NOT NULL THEN rj ELSE pb END
            WHEN p.outcome IN ('filter_quarantined', 'filter_deferred') THEN ef
            WHEN p.outcome IN ('server_quarantined', 'server_junked', 'server_failed') THEN es
            WHEN p.outcome = 'removed_after_delivery' THEN em
            WHEN p.outcome = 'moved_by_rule' THEN
                CASE WHEN p.mailbox_state = 'moved_by_rule' THEN em
                     WHEN p.server_location IN ('other_folder', 'deleted') THEN es
                     ELSE ru END
            WHEN p.outcome = 'interacted' THEN hi
            WHEN p.outcome = 'delivered' THEN coalesce(es, em)
            ELSE coalesce(em, es, ef, pf)
        END AS ev
    FROM (
        SELECT p.*,
            {'source': p.source_format, 'ts': coalesce(p.sent_ts, p.scheduled_at, p.run_start), 'row': p.source_row,
             'load': p.load_id,
             'detail': CASE
                 WHEN p.outcome = 'scheduling_stalled' THEN 'status ' || p.platform_status || ' since the run started'
                 WHEN p.outcome = 'held_bounced_learner' THEN 'status ' || p.platform_status ||
                     CASE WHEN p.learner_bounced THEN '; learner flagged bounced' || coalesce(' (' || p.learner_bounce_reason || ')', '')
                          WHEN p.run_end < p.as_of THEN '; the run ended ' || strftime(timezone('UTC', p.run_end), '%Y-%m-%d %H:%M UTC')
                          ELSE '; not sent for more than ' || CAST(pt_var('pt_held_hours', 24) AS VARCHAR) || ' h' END
                 ELSE 'platform status ' || p.platform_status END} AS pf,
            {'source': p.source_format, 'ts': p.bounced_at, 'row': p.source_row, 'load': p.load_id,
             'detail': 'platform status ' || p.platform_status || coalesce(' (' || p.bounce_reason || ')', '')} AS pb,
            {'source': p.reject_source, 'ts': p.reject_ts, 'row': p.reject_row, 'load': p.reject_load,
             'detail': concat_ws(': ', p.reject_status, p.reject_reason)} AS rj,
            CASE WHEN hf.message_key IS NOT NULL THEN
                {'source': hf.source_format, 'ts': hf.state_ts, 'row': hf.source_row, 'load': hf.load_id,
                 'detail': concat_ws(': ', hf.raw_status, hf.reason)} END AS ef,
            CASE WHEN hs.message_key IS NOT NULL THEN
                {'source': hs.source_format, 'ts': hs.state_ts, 'row': hs.source_row, 'load': hs.load_id,
                 'detail': concat_ws(': ', hs.raw_status, hs.reason)} END AS es,
            CASE WHEN hm.message_key IS NOT NULL THEN
                {'source': hm.source_format, 'ts': hm.state_ts, 'row': hm.source_row, 'load': hm.load_id,
                 'detail': concat_ws(': ', hm.raw_status, hm.reason)} END AS em,
            {'source': p.rule_source, 'ts': p.rule_ts, 'row': p.rule_row, 'load': p.rule_load,
             'detail': p.rule_reason || ' (matches the message''s ' || p.rule_matched_on || ')'} AS ru,
            {'source': p.first_human_source, 'ts': p.first_human_ts, 'row': p.first_human_row,
             'load': p.first_human_load, 'detail': p.first_human_kind || ' by a person'} AS hi
        FROM placed p
        LEFT JOIN hop hf ON hf.message_key = p.message_key AND hf.verdict_hop = 'filter'
        LEFT JOIN hop hs ON hs.message_key = p.message_key AND hs.verdict_hop = 'server'
        LEFT JOIN hop hm ON hm.message_key = p.message_key AND hm.verdict_hop = 'mailbox'
    ) p
)
SELECT customer, campaign, run, recipient, outcome, stuck_at,
       ev.source AS evidence_source, ev.ts AS evidence_ts, ev.detail AS evidence_detail, match_method,
       CASE outcome
           WHEN 'scheduling_stalled' THEN 'Every learner of this run may be in a bounced status: check the bounced learners list and clear them.'
           WHEN 'held_bounced_learner' THEN 'The learner is (probably) in a bounced status, so nothing is sent to them: check the bounce reason and clear the bounced status.'
           WHEN 'bounced' THEN CASE stuck_at
               WHEN 'filter' THEN 'The mail filter refused it (a permanent failure from a mail security service): check the filter''s allowlisting for the simulation senders.'
               WHEN 'server' THEN 'The mail server refused it permanently: check the address and the server''s allowlisting; clear the learner''s bounced status once fixed.'
               ELSE 'Permanent failure reported to the platform: check the bounce reason (a mail security service may answer with a bounce too), then clear the learner''s bounced status.' END
           WHEN 'filter_quarantined' THEN 'Complete the mail filter''s allowlisting for the simulation senders and release the message; if it is already allowlisted, open a ticket with the filter vendor.'
           WHEN 'filter_deferred' THEN 'Delivery is being retried at the mail filter: check its queue and the deferral reason.'
           WHEN 'server_quarantined' THEN 'Check the mail server''s allowlisting for phishing simulations (e.g. Microsoft 365 advanced delivery) and release the message from quarantine.'
           WHEN 'server_junked' THEN 'The server filtered it as spam: check its allowlisting (e.g. advanced delivery) and the spam verdict details.'
           WHEN 'server_failed' THEN 'The mail server failed or dropped it: look at the failure reason in the evidence.'
           WHEN 'removed_after_delivery' THEN 'A post-delivery service (ZAP, API security or an admin) pulled it out of the mailbox: exclude simulations in that service or open a ticket with it.'
           WHEN 'moved_by_rule' THEN 'A user or mailbox rule moved it: check the user''s rules and other folders (including junk).'
           WHEN 'interacted' THEN NULL
           WHEN 'delivered' THEN NULL
           ELSE CASE
               WHEN sent_ts IS NULL THEN 'Not sent yet: it is queued on the platform; check again after the run''s send window.'
               WHEN server_state = 'deferred' THEN 'Delivery is still being retried at the mail server: check its queue and the deferral reason.'
               WHEN server_state = 'relayed' THEN 'The mail server passed it on to another system: load that system''s logs for ' || sent_window || '.'
               WHEN server_state IS NOT NULL OR mailbox_state IS NOT NULL THEN 'The mail server received it but logged no final delivery: look it up in the server''s message trace detail and quarantine.'
               WHEN next_hop = 'filter' AND NOT filter_covered THEN 'Load filter logs (' || filter_formats || ') covering ' || sent_window || '; the loaded ones cover ' || coalesce(filter_windows, 'nothing') || '.' || coalesce(' ' || filter_fetch_note || '.', '')
               WHEN next_hop = 'filter' THEN 'The filter logs cover ' || sent_window || ' but have no record of this message: search them by recipient, sender and time.'
               WHEN NOT coalesce(server_loaded, false) THEN 'Load mail server logs (message trace, Exchange, Google or Postfix) covering ' || sent_window || '.'
               WHEN NOT server_covered THEN 'Load mail server logs (' || server_formats || ') covering ' || sent_window || '; the loaded ones cover ' || coalesce(server_windows, 'nothing') || '.' || coalesce(' ' || server_fetch_note || '.', '')
               ELSE 'The server logs cover ' || sent_window || ' but have no record of this message: search them by recipient, sender and time.' END
       END AS next_step,
       ev.row AS evidence_row, ev.load AS evidence_load_id,
       platform_status, status AS platform_status_normalised, first_name, last_name, sender, subject,
       scheduled_at, sent_ts AS sent_at, delivered_at AS platform_delivered_at, bounced_at AS platform_bounced_at,
       first_filter_ts AS filter_ts, first_server_ts AS server_ts, first_mailbox_ts AS mailbox_ts,
       mail_delivered_ts, first_human_ts, first_automated_ts, human_interactions, automated_interactions,
       reported_at, filter_state, server_state, mailbox_state, filter_loaded, filter_covered,
       server_loaded, server_covered, mailbox_loaded, mailbox_covered, as_of, message_key
FROM evidence
