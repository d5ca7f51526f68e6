-- GoPhish API timeline entries that record an interaction (formats.md §1.1.3): Email Opened, Clicked
-- Link, Submitted Data, Email Reported, with address and user agent from details.browser.
SELECT
    CAST(customer AS VARCHAR) AS customer,
    CAST(load_id AS BIGINT) AS load_id,
    CAST('gophish_api_json' AS VARCHAR) AS source_format,
    CAST(source_row AS BIGINT) AS source_row,
    CAST(campaign AS VARCHAR) AS campaign,
    CAST(campaign AS VARCHAR) AS run,
    CAST(pt_norm_addr(email) AS VARCHAR) AS recipient,
    CAST(pt_gophish_interaction_kind(message) AS VARCHAR) AS kind,
    CAST(event_ts AS TIMESTAMPTZ) AS event_ts,
    CAST(client_ip AS VARCHAR) AS client_ip,
    CAST(user_agent AS VARCHAR) AS user_agent,
    CAST(concat_ws('; ', message, 'rid=' || rid) AS VARCHAR) AS detail
FROM raw_gophish_api_json
WHERE record_type = 'event'
  AND pt_gophish_interaction_kind(message) IS NOT NULL
  AND pt_norm_addr(email) IS NOT NULL
