-- Proofpoint on Demand message and maillog records in the canonical mail-event shape.
-- Mapping: docs/architecture.md (vendor mappings) and reference/formats.md §2.1.1-2.1.2.
-- The verdict of a message record is the top-level final_action when the record has one
-- (final_source = 'top-level'), else filter.disposition, else the isFinal action. An `audit`
-- quarantine is a copy, not a quarantine.
-- maillog `to=` lines carry no Message-ID, sender, subject or token of their own: they are taken
-- from the `from=` line or message record with the same queue id (same customer).
WITH r AS NOT MATERIALIZED (  -- (read twice; scanning the table again is cheaper than storing it)
    SELECT *,
           lower(CASE WHEN final_source = 'top-level' THEN final_action
                      ELSE coalesce(disposition, final_action) END) AS verdict,
           (quarantine_folder IS NOT NULL OR quarantine_rule IS NOT NULL)
               AND lower(coalesce(quarantine_rule, '')) <> 'audit' AS quarantined,
           lower(coalesce(quarantine_rule, '')) = 'audit' AS audit_copy,
           lower(coalesce(sm_mailer, '')) IN ('esmtp', 'smtp', 'smtp8', 'dsmtp', 'relay') AS smtp_mailer,
           lower(coalesce(sm_stat, '')) AS stat,
           coalesce(trim(sm_dsn), '') AS dsn
    FROM raw_proofpoint_pod_json
),
qids AS (
    SELECT customer, qid,
           max(pt_norm_msgid(message_id)) AS qid_msgid,
           max(pt_norm_addr(sender)) AS qid_sender,
           max(subject) AS qid_subject,
           max(token) AS qid_token
    FROM r
    WHERE qid IS NOT NULL
    GROUP BY customer, qid
),
shared AS (
    SELECT r.*, q.qid_msgid, q.qid_sender, q.qid_subject, q.qid_token
    FROM r LEFT JOIN qids q ON q.customer = r.customer AND q.qid = r.qid
),
mapped AS (
    SELECT *,
           CASE WHEN record_type = 'message' THEN
                    CASE WHEN verdict = 'reject' THEN 'rejected'
                         WHEN verdict IN ('discard', 'quarantine') AND quarantined THEN 'quarantined'
                         WHEN verdict = 'discard' THEN 'dropped'
                         WHEN verdict = 'retry' THEN 'deferred'
                         WHEN verdict IN ('accept', 'continue') THEN 'passed'
                         ELSE 'received' END
                WHEN dsn LIKE '5.%' THEN 'bounced'
                WHEN dsn LIKE '4.%' OR stat LIKE 'deferred%' THEN 'deferred'
                WHEN stat LIKE 'sent%' AND smtp_mailer THEN 'relayed'
                ELSE 'received' END AS action
    FROM shared
)
SELECT CAST(customer AS VARCHAR) AS customer,
       CAST(load_id AS BIGINT) AS load_id,
       CAST('proofpoint_pod_json' AS VARCHAR) AS source_format,
       CAST('filter' AS VARCHAR) AS hop,
       CAST(CASE WHEN action = 'bounced' AND smtp_mailer AND sm_relay IS NOT NULL THEN 'server' ELSE 'filter' END
            AS VARCHAR) AS verdict_hop,
       CAST(event_ts AS TIMESTAMPTZ) AS event_ts,
       CAST(coalesce(pt_norm_msgid(message_id), qid_msgid) AS VARCHAR) AS message_id,
       CAST(CASE WHEN record_type = 'message' THEN coalesce(guid, qid) ELSE qid END AS VARCHAR) AS vendor_id,
       CAST(coalesce(pt_norm_addr(sender), qid_sender) AS VARCHAR) AS sender,
       CAST(CASE WHEN strpos(recipient, '@') > 0 THEN pt_norm_addr(recipient) END AS VARCHAR) AS recipient,
       CAST(coalesce(subject, qid_subject) AS VARCHAR) AS subject,
       CAST(action AS VARCHAR) AS action,
       CAST(CASE WHEN action = 'quarantined' THEN 'quarantine'
                 WHEN action = 'relayed' THEN 'external' END AS VARCHAR) AS location,
       CAST(CASE WHEN record_type = 'message' THEN
                     CASE WHEN action = 'quarantined' THEN coalesce(quarantine_folder, quarantine_rule)
                          ELSE nullif(concat_ws('; ',
                                   nullif(concat_ws('.', final_module, final_rule), ''),
                                   CASE WHEN audit_copy THEN 'audit copy in ' || coalesce(quarantine_folder, '?')
                                                             || ' (not a quarantine)' END), '') END
                 WHEN sm_stat IS NULL AND recipient IS NULL THEN 'queued from ' || coalesce(sm_relay, 'unknown relay')
                 ELSE nullif(concat_ws(', ', sm_stat, 'dsn=' || sm_dsn, 'mailer=' || sm_mailer, 'relay=' || sm_relay,
                                       CASE WHEN recipient IS NOT NULL AND strpos(recipient, '@') = 0
                                            THEN 'to=' || recipient END), '') END AS VARCHAR) AS reason,
       CAST(CASE WHEN record_type = 'message' THEN CASE WHEN final_source = 'top-level' THEN final_action
                                                       ELSE coalesce(disposition, final_action) END
                 ELSE nullif(concat_ws(' ', sm_stat, 'dsn=' || sm_dsn), '') END AS VARCHAR) AS raw_status,
       CAST(source_row AS BIGINT) AS source_row,
       CAST(NULL AS VARCHAR) AS url,
       CAST(coalesce(token, qid_token) AS VARCHAR) AS token,
       CAST(NULL AS VARCHAR) AS client_ip,
       CAST(NULL AS VARCHAR) AS user_agent
FROM mapped
