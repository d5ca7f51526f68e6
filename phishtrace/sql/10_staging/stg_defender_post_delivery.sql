-- Defender for Office 365 EmailPostDeliveryEvents (ZAP, remediation, redelivery) in the canonical
-- mail-event shape; every row is a mailbox-hop decision. Mapping: docs/architecture.md "Vendor
-- mappings" and reference/formats.md §3.2.2; ActionType, ActionResult and DeliveryLocation are
-- compared case-insensitively (`Manual Remediation` is seen with a capital R).
--   ActionResult not Success                          -> received (reason: the attempt failed)
--   `%ZAP` / Manual remediation, location not Inbox   -> removed_post_delivery (quarantine/junk/deleted)
--   Manual remediation into the Inbox, Redelivery     -> redelivered (inbox)
--   anything else                                     -> received
WITH r AS (
    SELECT *,
           lower(trim(coalesce(ActionType, ''))) AS act,
           lower(trim(coalesce(ActionResult, ''))) AS res,
           lower(trim(coalesce(DeliveryLocation, ''))) AS dl,
           pt_norm_msgid(regexp_replace(regexp_replace(InternetMessageId, '\\u003[cC]', '<', 'g'),
                                        '\\u003[eE]', '>', 'g')) AS msgid
    FROM raw_defender_post_delivery
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
                ELSE 'other_folder' END AS loc
    FROM r
),
mapped AS (
    SELECT *,
           CASE WHEN res <> 'success' THEN 'received'
                WHEN (act LIKE '%zap' OR act = 'manual remediation') AND loc IS DISTINCT FROM 'inbox'
                    THEN 'removed_post_delivery'
                WHEN act = 'manual remediation' OR act = 'redelivery' THEN 'redelivered'
                ELSE 'received' END AS pt_action
    FROM classed
)
SELECT CAST(customer AS VARCHAR) AS customer,
       CAST(load_id AS BIGINT) AS load_id,
       CAST('defender_post_delivery' AS VARCHAR) AS source_format,
       CAST('mailbox' AS VARCHAR) AS hop,
       CAST('mailbox' AS VARCHAR) AS verdict_hop,
       CAST(event_ts AS TIMESTAMPTZ) AS event_ts,
       CAST(msgid AS VARCHAR) AS message_id,
       CAST(NetworkMessageId AS VARCHAR) AS vendor_id,
       CAST(pt_norm_addr(SenderFromAddress) AS VARCHAR) AS sender,
       CAST(pt_norm_addr(RecipientEmailAddress) AS VARCHAR) AS recipient,
       CAST(NULL AS VARCHAR) AS subject,
       CAST(pt_action AS VARCHAR) AS action,
       CAST(CASE pt_action WHEN 'removed_post_delivery' THEN loc
                        WHEN 'redelivered' THEN coalesce(loc, 'inbox') END AS VARCHAR) AS location,
       CAST(CASE WHEN res <> 'success'
                     THEN coalesce(ActionType, 'post-delivery action') || ' attempt failed (ActionResult '
                          || coalesce(ActionResult, 'missing') || ')'
                 ELSE nullif(concat_ws('; ', ActionType, 'action ' || Action, 'trigger ' || ActionTrigger,
                                       'to ' || DeliveryLocation, 'threats ' || ThreatTypes,
                                       'detection ' || DetectionMethods), '') END AS VARCHAR) AS reason,
       CAST(nullif(concat_ws(' / ', ActionType, ActionResult, DeliveryLocation), '') AS VARCHAR) AS raw_status,
       CAST(source_row AS BIGINT) AS source_row,
       CAST(NULL AS VARCHAR) AS url,
       CAST(NULL AS VARCHAR) AS token,
       CAST(NULL AS VARCHAR) AS client_ip,
       CAST(NULL AS VARCHAR) AS user_agent
FROM mapped
