-- What decided pt_exchange_action: 'custom' (MAILBOXRULE source), 'sfa' (spam filter), 'tra' (transport
-- rule) or 'event' (the event id).
CREATE OR REPLACE MACRO pt_exchange_decided_by(source, custom_data) AS (
    CASE
        WHEN upper(trim(coalesce(source, ''))) = 'MAILBOXRULE' THEN 'custom'
        WHEN pt_exchange_sfa_di(custom_data) IN ('SB', 'SQ', 'SD', 'SJ') THEN 'sfa'
        WHEN list_has_any(pt_exchange_tra_actions(custom_data), ['rejectmessage', 'reject', 'ndr', 'rejectmessagewithdsn',
             'quarantine', 'quarantinemessage', 'deletemessage', 'delete', 'redirectmessage', 'redirectmessageto',
             'moderatemessagebyuser', 'moderatemessagebymanager']) THEN 'tra'
        ELSE 'event'
    END)
