-- The actions (lower-case) of the transport rules that acted, from Exchange custom-data.
CREATE OR REPLACE MACRO pt_exchange_tra_actions(custom_data) AS (
    list_transform(flatten(list_transform(pt_exchange_tra_entries(custom_data),
                                          lambda e: regexp_extract_all(e, '\|action=([^|;]*)', 1))),
                   lambda a: lower(trim(a))))
