-- Defender for Office 365 EmailEvents (advanced hunting) in the canonical mail-event shape.
-- Mapping: docs/architecture.md "Vendor mappings" and reference/formats.md §3.2.1; DeliveryAction and
-- DeliveryLocation are compared case-insensitively (real data writes `Inbox/folder`; Graph spellings
-- such as junkFolder / onprem_external are classed the same way). Delivery verdicts are Exchange
-- Online's (verdict_hop server); a delivery into Deleted items or another non-inbox folder is a rule
-- move (verdict_hop mailbox). Replaced is handled as Delivered (into the inbox when no location).
-- When LatestDeliveryLocation (absent from the Streaming API) is in another place than
-- DeliveryLocation, a second row at the same Timestamp records the later move: to quarantine / junk /
-- deleted = removed_post_delivery, back to the inbox = redelivered (released, at the server hop, when
-- it left quarantine), to another folder = moved_by_rule.
WITH r AS NOT MATERIALIZED (  -- (read twice; scanning the table again is cheaper than storing it)
    SELECT *,
           lower(trim(coalesce(DeliveryAction, ''))) AS da,
           lower(trim(coalesce(DeliveryLocation, ''))) AS dl,
           lower(trim(coalesce(LatestDeliveryLocation, ''))) AS ldl,
           pt_norm_msgid(regexp_replace(regexp_replace(InternetMessageId, '\\u003[cC]', '<', 'g'),
                                        '\\u003[eE]', '>', 'g')) AS msgid
    FROM raw_defender_email_events
),
classed AS (
    SELECT *,
           CASE WHEN dl IN ('', 'unknown') THEN NULL
                WHEN dl LIKE 'inbox%' THEN 'inbox'
                WHEN dl LIKE 'junk%' THEN 'junk'
                WHEN dl LIKE 'quarantine%' THEN 'quarantine'
                WHEN dl LIKE 'deleted%' THEN 'deleted'
                WHEN dl LIKE 'on-prem%' OR dl LIKE '%external%' THEN 'external'
                WHEN dl IN ('failed', 'dropped') THEN 'none'
                ELSE 'other_folder' END AS loc,
           CASE WHEN ldl IN ('', 'unknown') THEN NULL
                WHEN ldl LIKE 'inbox%' THEN 'inbox'
                WHEN ldl LIKE 'junk%' THEN 'junk'
                WHEN ldl LIKE 'quarantine%' THEN 'quarantine'
                WHEN ldl LIKE 'deleted%' THEN 'deleted'
                WHEN ldl LIKE 'on-prem%' OR ldl LIKE '%external%' THEN 'external'
                WHEN ldl IN ('failed', 'dropped') THEN 'none'
                ELSE 'other_folder' END AS latest_loc
    FROM r
),
delivery AS (
    SELECT *,
           CASE WHEN da IN ('delivered', 'replaced') THEN
                    CASE loc WHEN 'junk' THEN 'junked'
                             WHEN 'quarantine' THEN 'quarantined'
                             WHEN 'deleted' THEN 'moved_by_rule'
                             WHEN 'other_folder' THEN 'moved_by_rule'
                             WHEN 'external' THEN 'relayed'
                             WHEN 'none' THEN 'dropped'
                             ELSE 'delivered' END
                WHEN loc = 'junk' OR da IN ('junked', 'deliveredasspam', 'deliveredtojunk') THEN 'junked'
                WHEN da = 'blocked' THEN CASE WHEN loc = 'quarantine' THEN 'quarantined' ELSE 'dropped' END
                ELSE 'received' END AS action
    FROM classed
),
events AS (
    SELECT customer, load_id, event_ts, msgid, NetworkMessageId, SenderMailFromAddress, SenderFromAddress,
           RecipientEmailAddress, Subject, source_row, action,
           CASE WHEN action = 'moved_by_rule' THEN 'mailbox' ELSE 'server' END AS verdict_hop,
           CASE action WHEN 'delivered' THEN CASE WHEN da = 'replaced' THEN coalesce(loc, 'inbox') ELSE loc END
                       WHEN 'junked' THEN 'junk'
                       WHEN 'quarantined' THEN 'quarantine'
                       WHEN 'dropped' THEN 'none'
                       WHEN 'relayed' THEN 'external'
                       WHEN 'moved_by_rule' THEN loc END AS location,
           nullif(concat_ws('; ', DeliveryLocation,
                            'org policy ' || OrgLevelPolicy || coalesce(' (' || OrgLevelAction || ')', ''),
                            'user policy ' || UserLevelPolicy || coalesce(' (' || UserLevelAction || ')', ''),
                            'email action ' || EmailAction,
                            'threats ' || ThreatTypes,
                            'detection ' || DetectionMethods), '') AS reason,
           nullif(concat_ws(' / ', DeliveryAction, DeliveryLocation), '') AS raw_status
    FROM delivery
    UNION ALL
    SELECT customer, load_id, event_ts, msgid, NetworkMessageId, SenderMailFromAddress, SenderFromAddress,
           RecipientEmailAddress, Subject, source_row, later.action,
           CASE WHEN later.action = 'released' THEN 'server' ELSE 'mailbox' END AS verdict_hop,
           latest_loc AS location,
           'LatestDeliveryLocation ' || LatestDeliveryLocation || ' (delivered to '
               || coalesce(DeliveryLocation, 'unknown') || ')'
               || coalesce('; ' || LatestDeliveryAction, '') AS reason,
           nullif(concat_ws(' / ', LatestDeliveryAction, LatestDeliveryLocation), '') AS raw_status
    FROM (SELECT *,
                 CASE WHEN latest_loc = 'inbox' AND loc = 'quarantine' THEN 'released'
                      WHEN latest_loc = 'inbox' THEN 'redelivered'
                      WHEN latest_loc IN ('quarantine', 'junk', 'deleted', 'none') THEN 'removed_post_delivery'
                      WHEN latest_loc = 'other_folder' THEN 'moved_by_rule' END AS action
          FROM classed
          WHERE latest_loc IS NOT NULL AND latest_loc IS DISTINCT FROM loc) AS later
    WHERE later.action IS NOT NULL
)
SELECT CAST(customer AS VARCHAR) AS customer,
       CAST(load_id AS BIGINT) AS load_id,
       CAST('defender_email_events' AS VARCHAR) AS source_format,
       CAST('mailbox' AS VARCHAR) AS hop,
       CAST(verdict_hop AS VARCHAR) AS verdict_hop,
       CAST(event_ts AS TIMESTAMPTZ) AS event_ts,
       CAST(msgid AS VARCHAR) AS message_id,
       CAST(NetworkMessageId AS VARCHAR) AS vendor_id,
       CAST(pt_norm_addr(coalesce(SenderMailFromAddress, SenderFromAddress)) AS VARCHAR) AS sender,
       CAST(pt_norm_addr(RecipientEmailAddress) AS VARCHAR) AS recipient,
       CAST(Subject AS VARCHAR) AS subject,
       CAST(action AS VARCHAR) AS action,
       CAST(location AS VARCHAR) AS location,
       CAST(reason AS VARCHAR) AS reason,
       CAST(raw_status AS VARCHAR) AS raw_status,
       CAST(source_row AS BIGINT) AS source_row,
       CAST(NULL AS VARCHAR) AS url,
       CAST(NULL AS VARCHAR) AS token,
       CAST(NULL AS VARCHAR) AS client_ip,
       CAST(NULL AS VARCHAR) AS user_agent
FROM events
