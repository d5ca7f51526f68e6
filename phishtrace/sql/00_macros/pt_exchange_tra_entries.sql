-- Exchange custom-data transport-rule entries (S:TRA=ETR|...) that acted: mode Enforce or no mode
-- (ETRP = rule not matched; audit/test modes do not act).
CREATE OR REPLACE MACRO pt_exchange_tra_entries(custom_data) AS (
    list_filter(regexp_extract_all(coalesce(custom_data, ''), 'S:TRA=ETR\|[^;]*', 0),
                lambda e: lower(coalesce(regexp_extract(e, '\|mode=([^|;]*)', 1), '')) IN ('', 'enforce')))
