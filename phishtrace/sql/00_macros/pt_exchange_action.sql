-- Canonical action of an Exchange tracking event (on-prem MSGTRK, EAC Extended report), formats.md §3.4/§5.3.
-- custom-data overrides the event id and the most severe verdict wins: DI=SB / reject rule -> rejected,
-- DI=SQ / quarantine rule -> quarantined, DI=SD / delete or redirect rule -> dropped, DI=SJ -> junked,
-- moderation rule -> deferred; then DELIVER -> delivered, SEND(EXTERNAL) -> relayed, FAIL and moderation
-- NDRs -> bounced, DEFER -> deferred, DROP/BADMAIL/POISONMESSAGE -> dropped; source MAILBOXRULE (a message an
-- inbox rule generated) and every other event -> received.
CREATE OR REPLACE MACRO pt_exchange_action(event_id, source, custom_data) AS (
    CASE
        WHEN upper(trim(coalesce(source, ''))) = 'MAILBOXRULE' THEN 'received'
        WHEN pt_exchange_sfa_di(custom_data) = 'SB'
             OR list_has_any(pt_exchange_tra_actions(custom_data), ['rejectmessage', 'reject', 'ndr', 'rejectmessagewithdsn'])
            THEN 'rejected'
        WHEN pt_exchange_sfa_di(custom_data) = 'SQ'
             OR list_has_any(pt_exchange_tra_actions(custom_data), ['quarantine', 'quarantinemessage']) THEN 'quarantined'
        WHEN pt_exchange_sfa_di(custom_data) = 'SD'
             OR list_has_any(pt_exchange_tra_actions(custom_data), ['deletemessage', 'delete', 'redirectmessage', 'redirectmessageto'])
            THEN 'dropped'
        WHEN pt_exchange_sfa_di(custom_data) = 'SJ' THEN 'junked'
        WHEN list_has_any(pt_exchange_tra_actions(custom_data), ['moderatemessagebyuser', 'moderatemessagebymanager'])
            THEN 'deferred'
        WHEN upper(trim(coalesce(event_id, ''))) IN ('DELIVER', 'DUPLICATEDELIVER') THEN 'delivered'
        WHEN upper(trim(coalesce(event_id, ''))) IN ('SEND', 'SENDEXTERNAL') THEN 'relayed'
        WHEN upper(trim(coalesce(event_id, ''))) IN ('FAIL', 'MODERATORREJECT', 'MODERATIONEXPIRE', 'MODERATORSALLNDR')
            THEN 'bounced'
        WHEN upper(trim(coalesce(event_id, ''))) IN ('DEFER', 'SUBMITDEFER', 'RESUBMITDEFER', 'THROTTLE') THEN 'deferred'
        WHEN upper(trim(coalesce(event_id, ''))) IN ('DROP', 'BADMAIL', 'POISONMESSAGE') THEN 'dropped'
        ELSE 'received'
    END)
