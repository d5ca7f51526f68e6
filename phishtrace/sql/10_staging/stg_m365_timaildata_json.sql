-- TIMailData records (one raw row per recipient) as canonical mail events, formats.md §3.3.1 / §5.3.
-- 1. The delivery verdict, at MessageTime, verdict_hop server (Exchange Online's decision), following
--    the defender_email_events rows of docs/architecture.md "Vendor mappings":
--    Delivered/Replaced + Inbox (or no location) -> delivered; + JunkFolder -> junked; + Quarantine ->
--    quarantined; + DeletedFolder / another folder -> moved_by_rule (verdict_hop mailbox);
--    + On-premises/External -> relayed; + Failed/Dropped -> dropped. DeliveredAsSpam (deliveredToJunk) -> junked
--    (quarantined when the location is Quarantine). Blocked -> quarantined when the location is
--    Quarantine, else dropped. Any other DeliveryAction -> received.
-- 2. When LatestDeliveryLocation differs from OriginalDeliveryLocation, a second event at CreationTime
--    (when the move happened is UNCERTAIN: CreationTime is when the record was written):
--    Quarantine -> Inbox/Junk/other folder = released (server: a quarantine release);
--    -> Inbox = redelivered (server when the original verdict was Junk or Failed/Dropped, else mailbox);
--    -> Quarantine / Junk / Deleted / Failed = removed_post_delivery (mailbox);
--    -> another folder = moved_by_rule (mailbox); anything else = received.
-- Locations are compared lower-case with non-letters removed, so the spellings of formats.md §3.2.1
-- (Inbox/folder, Junk, Deleted items; Graph inbox_folder, junkFolder, deletedFolder, onprem_external,
-- others) map like TIMailData's Inbox, JunkFolder, Quarantine; an unlisted name is another folder.
WITH base AS (
    SELECT *,
        CASE regexp_replace(lower(coalesce(original_location, '')), '[^a-z]', '', 'g')
            WHEN '' THEN NULL WHEN 'unknown' THEN NULL
            WHEN 'inbox' THEN 'inbox' WHEN 'inboxfolder' THEN 'inbox'
            WHEN 'junkfolder' THEN 'junk' WHEN 'junk' THEN 'junk' WHEN 'junkemail' THEN 'junk'
            WHEN 'quarantine' THEN 'quarantine'
            WHEN 'deletedfolder' THEN 'deleted' WHEN 'deleteditems' THEN 'deleted' WHEN 'deleted' THEN 'deleted'
            WHEN 'failed' THEN 'none' WHEN 'dropped' THEN 'none'
            WHEN 'onpremexternal' THEN 'external' WHEN 'onpremisesexternal' THEN 'external'
            WHEN 'external' THEN 'external'
            ELSE 'other_folder' END AS orig_loc,
        CASE regexp_replace(lower(coalesce(latest_location, '')), '[^a-z]', '', 'g')
            WHEN '' THEN NULL WHEN 'unknown' THEN NULL
            WHEN 'inbox' THEN 'inbox' WHEN 'inboxfolder' THEN 'inbox'
            WHEN 'junkfolder' THEN 'junk' WHEN 'junk' THEN 'junk' WHEN 'junkemail' THEN 'junk'
            WHEN 'quarantine' THEN 'quarantine'
            WHEN 'deletedfolder' THEN 'deleted' WHEN 'deleteditems' THEN 'deleted' WHEN 'deleted' THEN 'deleted'
            WHEN 'failed' THEN 'none' WHEN 'dropped' THEN 'none'
            WHEN 'onpremexternal' THEN 'external' WHEN 'onpremisesexternal' THEN 'external'
            WHEN 'external' THEN 'external'
            ELSE 'other_folder' END AS latest_loc,
        regexp_replace(lower(coalesce(delivery_action, '')), '[^a-z]', '', 'g') AS da,
        concat_ws('; ',
            'Verdict ' || nullif(trim(verdict), ''),
            'DetectionMethod ' || nullif(trim(detection_method), ''),
            'Policy ' || nullif(trim(policy), ''),
            'PolicyAction ' || nullif(trim(policy_action), '')) AS detail
    FROM raw_m365_timaildata_json
),
verdicts AS (
    SELECT *,
        CASE
            WHEN da IN ('delivered', 'replaced') THEN CASE orig_loc
                WHEN 'junk' THEN 'junked' WHEN 'quarantine' THEN 'quarantined'
                WHEN 'deleted' THEN 'moved_by_rule' WHEN 'other_folder' THEN 'moved_by_rule'
                WHEN 'external' THEN 'relayed' WHEN 'none' THEN 'dropped'
                ELSE 'delivered' END
            WHEN da IN ('deliveredasspam', 'deliveredtojunk', 'junked') THEN
                CASE WHEN orig_loc = 'quarantine' THEN 'quarantined' ELSE 'junked' END
            WHEN da = 'blocked' THEN
                CASE WHEN orig_loc = 'quarantine' THEN 'quarantined' ELSE 'dropped' END
            ELSE 'received' END AS v_action
    FROM base
),
events AS (
    SELECT customer, load_id, source_row, network_message_id, internet_message_id, p1_sender, p2_sender,
           recipient, subject,
           message_ts AS event_ts,
           v_action AS action,
           CASE v_action
               WHEN 'junked' THEN 'junk'
               WHEN 'quarantined' THEN 'quarantine'
               WHEN 'dropped' THEN 'none'
               WHEN 'relayed' THEN 'external'
               ELSE orig_loc END AS location,
           CASE WHEN v_action = 'moved_by_rule' THEN 'mailbox' ELSE 'server' END AS verdict_hop,
           concat_ws('; ', coalesce(nullif(trim(delivery_action), ''), 'no DeliveryAction') ||
                     coalesce(' (OriginalDeliveryLocation ' || nullif(trim(original_location), '') || ')', ''),
                     nullif(detail, '')) AS reason,
           concat_ws(' / ', nullif(trim(delivery_action), ''), nullif(trim(original_location), '')) AS raw_status
    FROM verdicts
    UNION ALL
    SELECT customer, load_id, source_row, network_message_id, internet_message_id, p1_sender, p2_sender,
           recipient, subject,
           creation_ts AS event_ts,
           CASE
               WHEN orig_loc = 'quarantine' AND latest_loc IN ('inbox', 'junk', 'other_folder') THEN 'released'
               WHEN latest_loc = 'inbox' THEN 'redelivered'
               WHEN latest_loc IN ('quarantine', 'junk', 'deleted', 'none') THEN 'removed_post_delivery'
               WHEN latest_loc = 'other_folder' THEN 'moved_by_rule'
               ELSE 'received' END AS action,
           latest_loc AS location,
           CASE
               WHEN orig_loc = 'quarantine' AND latest_loc IN ('inbox', 'junk', 'other_folder') THEN 'server'
               WHEN latest_loc = 'inbox' AND (orig_loc IN ('junk', 'none') OR v_action IN ('junked', 'dropped'))
                   THEN 'server'
               ELSE 'mailbox' END AS verdict_hop,
           concat_ws('; ', 'LatestDeliveryLocation ' || trim(latest_location) || ' (OriginalDeliveryLocation ' ||
                     coalesce(nullif(trim(original_location), ''), 'none') || ')', nullif(detail, '')) AS reason,
           coalesce(nullif(trim(original_location), ''), '(none)') || ' -> ' || trim(latest_location) AS raw_status
    FROM verdicts
    WHERE latest_loc IS NOT NULL AND latest_loc IS DISTINCT FROM orig_loc
)
SELECT
    CAST(customer AS VARCHAR) AS customer,
    CAST(load_id AS BIGINT) AS load_id,
    CAST('m365_timaildata_json' AS VARCHAR) AS source_format,
    CAST('mailbox' AS VARCHAR) AS hop,
    CAST(verdict_hop AS VARCHAR) AS verdict_hop,
    CAST(event_ts AS TIMESTAMPTZ) AS event_ts,
    CAST(pt_norm_msgid(internet_message_id) AS VARCHAR) AS message_id,
    CAST(nullif(lower(trim(network_message_id)), '') AS VARCHAR) AS vendor_id,
    CAST(coalesce(pt_norm_addr(p1_sender), pt_norm_addr(p2_sender)) AS VARCHAR) AS sender,
    CAST(pt_norm_addr(recipient) AS VARCHAR) AS recipient,
    CAST(subject AS VARCHAR) AS subject,
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
