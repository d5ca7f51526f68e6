-- Interactions implied by a GoPhish Results CSV row (formats.md §1.1.2, §1.1.4): the status reached
-- (Email Opened / Clicked Link / Submitted Data) and reported=true, timed by modified_date (v0.7.0+;
-- older exports have no time). modified_date is the last status change, but a report moves it too:
-- for a reported row it is only an upper bound of the interaction time, and the report time is exact
-- only when no interaction status was reached. ip is the address of the most recent tracked request
-- (often a scanner's).
WITH r AS (
    SELECT *,
           CASE status
               WHEN 'Email Opened' THEN 'opened'
               WHEN 'Clicked Link' THEN 'clicked'
               WHEN 'Submitted Data' THEN 'entered_data'
           END AS kind
    FROM raw_gophish_results_csv
), k AS (
    SELECT customer, load_id, source_row, campaign, email, kind, modified_ts AS event_ts, ip AS client_ip,
           'results status ' || status || '; ' ||
           CASE WHEN modified_ts IS NULL THEN 'time not exported'
                WHEN reported = 'true' THEN 'time = modified_date, an upper bound (the report also moves it)'
                ELSE 'time = modified_date' END ||
           CASE WHEN ip IS NOT NULL THEN '; ip of the most recent tracked request' ELSE '' END AS detail
    FROM r WHERE kind IS NOT NULL
    UNION ALL
    SELECT customer, load_id, source_row, campaign, email, 'reported' AS kind, modified_ts AS event_ts,
           NULL AS client_ip,
           'results reported=true; ' ||
           CASE WHEN modified_ts IS NULL THEN 'time not exported'
                WHEN kind IS NULL THEN 'time = modified_date'
                ELSE 'time = modified_date, an upper bound (a later status change also moves it)' END AS detail
    FROM r WHERE reported = 'true'
)
SELECT
    CAST(customer AS VARCHAR) AS customer,
    CAST(load_id AS BIGINT) AS load_id,
    CAST('gophish_results_csv' AS VARCHAR) AS source_format,
    CAST(source_row AS BIGINT) AS source_row,
    CAST(campaign AS VARCHAR) AS campaign,
    CAST(campaign AS VARCHAR) AS run,
    CAST(pt_norm_addr(email) AS VARCHAR) AS recipient,
    CAST(kind AS VARCHAR) AS kind,
    CAST(event_ts AS TIMESTAMPTZ) AS event_ts,
    CAST(client_ip AS VARCHAR) AS client_ip,
    CAST(NULL AS VARCHAR) AS user_agent,
    CAST(detail AS VARCHAR) AS detail
FROM k
