-- Exchange custom-data spam-filter disposition (S:SFA=...|DI=SJ/SQ/SD/SB/SN), upper-case, '' when absent
-- (formats.md §3.1.4). Shared by the on-prem tracking log and the EAC Extended report.
CREATE OR REPLACE MACRO pt_exchange_sfa_di(custom_data) AS (
    upper(regexp_extract(coalesce(custom_data, ''), 'S:SFA=[^;]*\|DI=([A-Za-z]+)', 1)))
