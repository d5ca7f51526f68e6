-- Proofpoint TAP SIEM records as canonical mail events (formats.md §2.1.4; docs/architecture.md).
-- messagesBlocked -> quarantined, messagesDelivered -> passed, clicksPermitted -> clicked,
-- clicksBlocked -> clicked_blocked; a click whose list is unknown -> clicked. Every TAP record means
-- the URL or message is threat-classified: reason carries tap_threat:<classification>.
WITH r AS (
    SELECT *,
           'tap_threat:' || coalesce(classification, 'unknown') AS threat_tag
    FROM raw_proofpoint_tap_json
)
SELECT
    CAST(customer AS VARCHAR) AS customer,
    CAST(load_id AS BIGINT) AS load_id,
    CAST('proofpoint_tap_json' AS VARCHAR) AS source_format,
    CAST('filter' AS VARCHAR) AS hop,
    CAST('filter' AS VARCHAR) AS verdict_hop,
    CAST(event_ts AS TIMESTAMPTZ) AS event_ts,
    CAST(pt_norm_msgid(message_id) AS VARCHAR) AS message_id,
    CAST(guid AS VARCHAR) AS vendor_id,
    CAST(pt_norm_addr(sender) AS VARCHAR) AS sender,
    CAST(pt_norm_addr(recipient) AS VARCHAR) AS recipient,
    CAST(subject AS VARCHAR) AS subject,
    CAST(CASE
        WHEN tap_list = 'messagesBlocked' THEN 'quarantined'
        WHEN tap_list = 'messagesDelivered' THEN 'passed'
        WHEN tap_list = 'clicksBlocked' THEN 'clicked_blocked'
        ELSE 'clicked'
    END AS VARCHAR) AS action,
    CAST(CASE WHEN tap_list = 'messagesBlocked' THEN 'quarantine' END AS VARCHAR) AS location,
    CAST(CASE
        WHEN tap_list = 'messagesBlocked' THEN concat_ws('; ',
            nullif(concat_ws('/', quarantine_folder, quarantine_rule), ''), threat_tag, 'blocked by TAP')
        WHEN tap_list = 'messagesDelivered' THEN threat_tag || '; delivered although threat-classified'
        WHEN tap_list = 'clicksPermitted' THEN threat_tag || '; click permitted by URL Defense'
        WHEN tap_list = 'clicksBlocked' THEN threat_tag || '; click blocked by URL Defense'
        ELSE threat_tag || '; click (TAP list not recorded: permitted or blocked unknown)'
    END AS VARCHAR) AS reason,
    CAST(concat_ws('/', coalesce(tap_list, record_kind), threat_status) AS VARCHAR) AS raw_status,
    CAST(source_row AS BIGINT) AS source_row,
    CAST(url AS VARCHAR) AS url,
    CAST(token AS VARCHAR) AS token,
    CAST(click_ip AS VARCHAR) AS client_ip,
    CAST(user_agent AS VARCHAR) AS user_agent
FROM r
