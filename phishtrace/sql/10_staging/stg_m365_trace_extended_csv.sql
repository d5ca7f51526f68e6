-- Exchange Online EAC historical-search CSVs (formats.md §3.1.4, §5.3) as canonical server-hop mail events.
-- Extended report (one row per event and recipient): the EXO message tracking log, mapped like
-- stg_exchange_msgtrk.sql (keep the two in step):
--   DELIVER (STOREDRIVER) -> delivered (inbox); SENDEXTERNAL -> relayed (external, left Exchange Online);
--   SEND -> relayed (location NULL: a hop between Exchange Online servers); FAIL -> bounced (reason = status);
--   DSN -> received (the NDR message itself, reason keeps it); DEFER -> deferred; DROP -> dropped (none);
--   every other event (RECEIVE, AGENTINFO, EXPAND, RESOLVE, TRANSFER, ...) -> received.
--   custom_data overrides the event: S:SFA ... DI=SB -> rejected, DI=SQ -> quarantined (quarantine),
--   DI=SD -> dropped (deleted), DI=SJ -> junked (junk); a matched transport rule S:TRA=ETR|...|action=X
--   (mode Enforce or none; ETRP = not matched) -> RejectMessage -> rejected, Quarantine -> quarantined,
--   DeleteMessage -> dropped (deleted), RedirectMessage -> dropped, Moderate* -> deferred; the most severe wins.
-- Enhanced summary (one row per recipient, recipient_status = that recipient's event list, e.g.
-- 'Receive, Deliver'): the last event decides: Deliver -> delivered (location NULL: the summary cannot tell
-- Inbox from Junk, §3.1.5), Send -> relayed (external), Fail -> bounced, Defer -> deferred, Drop -> dropped;
-- Receive / Expand / Resolve / Transfer / anything else -> received. event_ts is the origin timestamp.
WITH ext AS (
    SELECT *,
           upper(trim(coalesce(event_id, ''))) AS ev,
           upper(trim(coalesce(source, ''))) AS src,
           upper(regexp_extract(coalesce(custom_data, ''), 'S:SFA=[^;]*\|DI=([A-Za-z]+)', 1)) AS sfa_di,
           regexp_extract(coalesce(custom_data, ''), 'S:SFA=[^;]*', 0) AS sfa_entry,
           regexp_extract_all(coalesce(custom_data, ''), 'S:TRA=ETR\|[^;]*', 0) AS tra_all,
           list_filter(regexp_extract_all(coalesce(custom_data, ''), 'S:TRA=ETR\|[^;]*', 0),
                       lambda e: lower(coalesce(regexp_extract(e, '\|mode=([^|;]*)', 1), '')) IN ('', 'enforce'))
               AS tra_entries
    FROM raw_m365_trace_extended_csv
    WHERE report = 'extended'
),
ext_verdicts AS (
    SELECT *,
           list_transform(flatten(list_transform(tra_entries,
               lambda e: regexp_extract_all(e, '\|action=([^|;]*)', 1))), lambda a: lower(trim(a))) AS tra_actions
    FROM ext
),
ext_mapped AS (
    SELECT *,
        CASE
            WHEN src = 'MAILBOXRULE' THEN 'received'
            WHEN sfa_di = 'SB' OR list_has_any(tra_actions, ['rejectmessage', 'reject', 'ndr', 'rejectmessagewithdsn'])
                THEN 'rejected'
            WHEN sfa_di = 'SQ' OR list_has_any(tra_actions, ['quarantine', 'quarantinemessage']) THEN 'quarantined'
            WHEN sfa_di = 'SD' OR list_has_any(tra_actions, ['deletemessage', 'delete', 'redirectmessage', 'redirectmessageto'])
                THEN 'dropped'
            WHEN sfa_di = 'SJ' THEN 'junked'
            WHEN list_has_any(tra_actions, ['moderatemessagebyuser', 'moderatemessagebymanager']) THEN 'deferred'
            WHEN ev IN ('DELIVER', 'DUPLICATEDELIVER') THEN 'delivered'
            WHEN ev IN ('SEND', 'SENDEXTERNAL') THEN 'relayed'
            WHEN ev IN ('FAIL', 'MODERATORREJECT', 'MODERATIONEXPIRE', 'MODERATORSALLNDR') THEN 'bounced'
            WHEN ev IN ('DEFER', 'SUBMITDEFER', 'RESUBMITDEFER', 'THROTTLE') THEN 'deferred'
            WHEN ev IN ('DROP', 'BADMAIL', 'POISONMESSAGE') THEN 'dropped'
            ELSE 'received'
        END AS act,
        CASE
            WHEN src = 'MAILBOXRULE' THEN 'custom'
            WHEN sfa_di IN ('SB', 'SQ', 'SD', 'SJ') THEN 'sfa'
            WHEN list_has_any(tra_actions, ['rejectmessage', 'reject', 'ndr', 'rejectmessagewithdsn', 'quarantine',
                 'quarantinemessage', 'deletemessage', 'delete', 'redirectmessage', 'redirectmessageto',
                 'moderatemessagebyuser', 'moderatemessagebymanager']) THEN 'tra'
            ELSE 'event'
        END AS decided_by
    FROM ext_verdicts
),
summary AS (
    SELECT *,
           lower(trim(list_last(string_split(coalesce(recipient_status, ''), ',')))) AS last_event
    FROM raw_m365_trace_extended_csv
    WHERE report = 'enhanced_summary'
)
SELECT
    CAST(customer AS VARCHAR) AS customer,
    CAST(load_id AS BIGINT) AS load_id,
    CAST('m365_trace_extended_csv' AS VARCHAR) AS source_format,
    CAST('server' AS VARCHAR) AS hop,
    CAST('server' AS VARCHAR) AS verdict_hop,
    CAST(event_ts AS TIMESTAMPTZ) AS event_ts,
    CAST(pt_norm_msgid(message_id) AS VARCHAR) AS message_id,
    CAST(coalesce(nullif(trim(network_message_id), ''), nullif(trim(internal_message_id), '')) AS VARCHAR) AS vendor_id,
    CAST(coalesce(pt_norm_addr(sender_address), pt_norm_addr(return_path)) AS VARCHAR) AS sender,
    CAST(pt_norm_addr(recipient_address) AS VARCHAR) AS recipient,
    CAST(message_subject AS VARCHAR) AS subject,
    CAST(act AS VARCHAR) AS action,
    CAST(CASE
        WHEN act = 'delivered' THEN 'inbox'
        WHEN act = 'junked' THEN 'junk'
        WHEN act = 'quarantined' THEN 'quarantine'
        WHEN act = 'dropped' AND (sfa_di = 'SD' OR list_has_any(tra_actions, ['deletemessage', 'delete'])) THEN 'deleted'
        WHEN act = 'dropped' THEN 'none'
        WHEN act = 'relayed' AND ev = 'SENDEXTERNAL' THEN 'external'
        END AS VARCHAR) AS location,
    CAST(CASE decided_by
        WHEN 'custom' THEN 'message generated by an inbox rule (source MAILBOXRULE, event ' || ev || ')'
        WHEN 'sfa' THEN 'spam filter verdict ' || sfa_entry
        WHEN 'tra' THEN 'transport rule ' || array_to_string(tra_entries, '; ')
        ELSE CASE
            WHEN ev = 'DSN' THEN 'delivery status notification generated' ||
                 coalesce(': ' || nullif(recipient_status, ''), '')
            WHEN ev = 'SEND' THEN 'sent to another Exchange Online server'
            WHEN ev = 'MODERATORREJECT' THEN 'rejected by the moderator'
            WHEN ev = 'MODERATIONEXPIRE' THEN 'moderation request expired'
            WHEN len(tra_all) > 0 THEN 'transport rule matched, no verdict action: ' || array_to_string(tra_all, '; ')
            WHEN act IN ('bounced', 'deferred', 'dropped', 'relayed', 'delivered')
                THEN nullif(concat_ws('; ', nullif(recipient_status, ''), nullif(connector_id, '')), '')
            WHEN regexp_full_match(coalesce(recipient_status, ''), '(?i)((To|Cc|Bcc);?)*') THEN NULL
            ELSE recipient_status
            END
        END AS VARCHAR) AS reason,
    CAST(ev || coalesce('/' || nullif(src, ''), '') || coalesce(' DI=' || nullif(sfa_di, ''), '') ||
         CASE WHEN len(tra_actions) > 0 THEN ' TRA action=' || array_to_string(tra_actions, ',') ELSE '' END
         AS VARCHAR) AS raw_status,
    CAST(source_row AS BIGINT) AS source_row,
    CAST(NULL AS VARCHAR) AS url,
    CAST(NULL AS VARCHAR) AS token,
    CAST(NULL AS VARCHAR) AS client_ip,
    CAST(NULL AS VARCHAR) AS user_agent
FROM ext_mapped
UNION ALL BY NAME
SELECT
    CAST(customer AS VARCHAR) AS customer,
    CAST(load_id AS BIGINT) AS load_id,
    CAST('m365_trace_extended_csv' AS VARCHAR) AS source_format,
    CAST('server' AS VARCHAR) AS hop,
    CAST('server' AS VARCHAR) AS verdict_hop,
    CAST(event_ts AS TIMESTAMPTZ) AS event_ts,
    CAST(pt_norm_msgid(message_id) AS VARCHAR) AS message_id,
    CAST(nullif(trim(network_message_id), '') AS VARCHAR) AS vendor_id,
    CAST(pt_norm_addr(sender_address) AS VARCHAR) AS sender,
    CAST(pt_norm_addr(recipient_address) AS VARCHAR) AS recipient,
    CAST(message_subject AS VARCHAR) AS subject,
    CAST(CASE last_event
        WHEN 'deliver' THEN 'delivered'
        WHEN 'send' THEN 'relayed'
        WHEN 'fail' THEN 'bounced'
        WHEN 'defer' THEN 'deferred'
        WHEN 'drop' THEN 'dropped'
        ELSE 'received' END AS VARCHAR) AS action,
    CAST(CASE last_event WHEN 'send' THEN 'external' WHEN 'drop' THEN 'none' END AS VARCHAR) AS location,
    CAST(CASE last_event
        WHEN 'deliver' THEN 'delivered to the mailbox (the summary cannot tell Inbox from Junk)'
        WHEN 'send' THEN 'sent on to the next hop'
        WHEN 'fail' THEN 'delivery failed'
        WHEN 'defer' THEN 'delivery deferred'
        WHEN 'drop' THEN 'dropped without delivery'
        WHEN 'expand' THEN 'distribution group expanded; members have their own rows'
        WHEN 'receive' THEN 'received by Exchange Online, no delivery event yet'
        WHEN '' THEN 'no recipient status'
        END AS VARCHAR) AS reason,
    CAST(recipient_status AS VARCHAR) AS raw_status,
    CAST(source_row AS BIGINT) AS source_row,
    CAST(NULL AS VARCHAR) AS url,
    CAST(NULL AS VARCHAR) AS token,
    CAST(NULL AS VARCHAR) AS client_ip,
    CAST(NULL AS VARCHAR) AS user_agent
FROM summary
