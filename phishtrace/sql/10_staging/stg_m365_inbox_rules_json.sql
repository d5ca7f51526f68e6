-- Inbox-rule audit records as rule_created events (docs/architecture.md "Inbox-rule records",
-- formats.md §3.3.2): recipient = mailbox owner, sender = the rule's From condition (addresses or
-- words joined with |), subject = its subject words (joined with |), location = deleted (delete
-- action, or a move to Deleted Items) / other_folder (move) / NULL (a rule that neither moves nor
-- deletes: kept so an analyst sees it), event_ts = CreationTime (UTC), verdict_hop mailbox.
-- Failed cmdlets (ResultStatus False/Failed) and RemoveMailboxRule operations are not rules.
SELECT
    CAST(customer AS VARCHAR) AS customer,
    CAST(load_id AS BIGINT) AS load_id,
    CAST('m365_inbox_rules_json' AS VARCHAR) AS source_format,
    CAST('mailbox' AS VARCHAR) AS hop,
    CAST('mailbox' AS VARCHAR) AS verdict_hop,
    CAST(event_ts AS TIMESTAMPTZ) AS event_ts,
    CAST(NULL AS VARCHAR) AS message_id,
    CAST(coalesce(nullif(trim(rule_id), ''), nullif(trim(record_id), '')) AS VARCHAR) AS vendor_id,
    CAST(nullif(lower(trim(senders)), '') AS VARCHAR) AS sender,
    CAST(pt_norm_addr(mailbox_owner) AS VARCHAR) AS recipient,
    CAST(nullif(trim(subject_words), '') AS VARCHAR) AS subject,
    CAST('rule_created' AS VARCHAR) AS action,
    CAST(CASE rule_action
        WHEN 'delete' THEN 'deleted'
        WHEN 'move' THEN CASE WHEN lower(trim(regexp_replace(coalesce(folder, ''), '^.*[\\:]', ''))) = 'deleted items'
                              THEN 'deleted' ELSE 'other_folder' END
        END AS VARCHAR) AS location,
    CAST('rule ''' || coalesce(rule_name, '?') || ''': ' || concat_ws(' ', action_detail, nullif(trim(folder), ''))
         AS VARCHAR) AS reason,
    CAST(concat_ws(' ', operation, nullif(trim(rule_operation), '')) AS VARCHAR) AS raw_status,
    CAST(source_row AS BIGINT) AS source_row,
    CAST(NULL AS VARCHAR) AS url,
    CAST(NULL AS VARCHAR) AS token,
    CAST(NULL AS VARCHAR) AS client_ip,
    CAST(NULL AS VARCHAR) AS user_agent
FROM raw_m365_inbox_rules_json
WHERE lower(coalesce(result_status, '')) NOT IN ('false', 'failed')
  AND lower(coalesce(rule_operation, '')) <> 'removemailboxrule'
