-- Cisco ESA consolidated event logs (CEF, formats.md §2.3.3, §5.2) as canonical filter-hop mail events,
-- one per recipient of duser. act (the final per-message outcome at the ESA):
--   DELIVERED   -> relayed (location external: handed to the next hop)
--   BOUNCED     -> bounced (reason ESAFinalActionDetails); verdict_hop 'server' when a delivery
--                  connection existed (ESADCID) and the detail is a 5.x.x code, i.e. the next hop
--                  refused (inferred: the CEF line carries no SMTP reply), else 'filter'
--   QUARANTINED -> quarantined (location quarantine, reason e.g. 'To POLICY')
--   DQ          -> deferred (location quarantine): "Message held temporarily in Delay Quarantine"
--   DROPPED     -> dropped (not seen in a fixture; UNCERTAIN)
--   ABORTED, partial events (ESAStatus=QUEUED, no act) and other values -> received
SELECT
    CAST(customer AS VARCHAR) AS customer,
    CAST(load_id AS BIGINT) AS load_id,
    CAST('cisco_esa_cef' AS VARCHAR) AS source_format,
    CAST('filter' AS VARCHAR) AS hop,
    CAST(CASE WHEN upper(act) = 'BOUNCED' AND dcid IS NOT NULL
                   AND regexp_matches(coalesce(final_action_details, ''), '^\s*5\.\d{1,3}\.\d{1,3}')
              THEN 'server' ELSE 'filter' END AS VARCHAR) AS verdict_hop,
    CAST(event_ts AS TIMESTAMPTZ) AS event_ts,
    CAST(pt_norm_msgid(message_id) AS VARCHAR) AS message_id,
    CAST(concat_ws(' ', host, 'MID ' || esamid) AS VARCHAR) AS vendor_id,
    CAST(pt_norm_addr(sender) AS VARCHAR) AS sender,
    CAST(pt_norm_addr(recipient) AS VARCHAR) AS recipient,
    CAST(subject AS VARCHAR) AS subject,
    CAST(CASE upper(act)
        WHEN 'DELIVERED' THEN 'relayed'
        WHEN 'BOUNCED' THEN 'bounced'
        WHEN 'QUARANTINED' THEN 'quarantined'
        WHEN 'DQ' THEN 'deferred'
        WHEN 'DROPPED' THEN 'dropped'
        ELSE 'received' END AS VARCHAR) AS action,
    CAST(CASE upper(act)
        WHEN 'DELIVERED' THEN 'external'
        WHEN 'QUARANTINED' THEN 'quarantine'
        WHEN 'DQ' THEN 'quarantine'
        WHEN 'DROPPED' THEN 'none' END AS VARCHAR) AS location,
    CAST(coalesce(final_action_details,
                  CASE WHEN act IS NULL AND status IS NOT NULL THEN 'partial event: ' || status END) AS VARCHAR)
        AS reason,
    CAST(coalesce(act, 'ESAStatus=' || status) AS VARCHAR) AS raw_status,
    CAST(source_row AS BIGINT) AS source_row,
    CAST(NULL AS VARCHAR) AS url,
    CAST(token AS VARCHAR) AS token,
    CAST(NULL AS VARCHAR) AS client_ip,
    CAST(NULL AS VARCHAR) AS user_agent
FROM raw_cisco_esa_cef
