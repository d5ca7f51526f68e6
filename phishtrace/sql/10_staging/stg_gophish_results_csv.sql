-- GoPhish Results CSV as platform messages (formats.md §1.1.2, §1.1.4, §5.1; docs/architecture.md,
-- platform staging views). One row per recipient; status is the furthest state reached. GoPhish has no
-- runs (run = campaign), no delivered/bounced state and no Message-ID; token = rid. send_date is the
-- actual send time once sent (HandleEmailSent), else the scheduled / next-attempt time. run_start is
-- the earliest send_date of the campaign in the file.
WITH r AS (
    SELECT *,
           CASE status
               WHEN 'Scheduled' THEN 'scheduled' WHEN 'Sending' THEN 'scheduled'
               WHEN 'Queued' THEN 'scheduled' WHEN 'Retrying' THEN 'scheduled'
               WHEN 'Error' THEN 'failed'
               WHEN 'Email Sent' THEN 'sent' WHEN 'Success' THEN 'sent'
               WHEN 'Email Opened' THEN 'opened'
               WHEN 'Clicked Link' THEN 'clicked'
               WHEN 'Submitted Data' THEN 'entered_data'
           END AS norm_status
    FROM raw_gophish_results_csv
)
SELECT
    CAST(customer AS VARCHAR) AS customer,
    CAST(load_id AS BIGINT) AS load_id,
    CAST('gophish_results_csv' AS VARCHAR) AS source_format,
    CAST(source_row AS BIGINT) AS source_row,
    CAST(campaign AS VARCHAR) AS campaign,
    CAST(campaign AS VARCHAR) AS run,
    CAST(min(send_ts) OVER (PARTITION BY customer, load_id, campaign) AS TIMESTAMPTZ) AS run_start,
    CAST(NULL AS TIMESTAMPTZ) AS run_end,
    CAST(pt_norm_addr(email) AS VARCHAR) AS recipient,
    CAST(first_name AS VARCHAR) AS first_name,
    CAST(last_name AS VARCHAR) AS last_name,
    CAST(norm_status AS VARCHAR) AS status,
    CAST(status AS VARCHAR) AS platform_status,
    CAST(CASE WHEN norm_status IN ('scheduled', 'failed') THEN send_ts END AS TIMESTAMPTZ) AS scheduled_at,
    CAST(CASE WHEN norm_status IN ('sent', 'opened', 'clicked', 'entered_data') THEN send_ts END AS TIMESTAMPTZ) AS sent_at,
    CAST(NULL AS TIMESTAMPTZ) AS delivered_at,
    CAST(NULL AS TIMESTAMPTZ) AS bounced_at,
    CAST(NULL AS VARCHAR) AS bounce_reason,
    CAST(NULL AS VARCHAR) AS sender,
    CAST(NULL AS VARCHAR) AS subject,
    CAST(NULL AS VARCHAR) AS message_id,
    CAST(rid AS VARCHAR) AS token,
    CAST(NULL AS BOOLEAN) AS learner_bounced
FROM r
