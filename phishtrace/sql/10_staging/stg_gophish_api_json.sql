-- GoPhish API campaign results as platform messages (formats.md §1.1, §5.1; docs/architecture.md,
-- platform staging views). One row per results[] entry, with the status mapping of the Results CSV;
-- the timeline adds the last 'Error Sending Email' text as bounce_reason (while not sent). run =
-- campaign; run_start = launch_date, else 'Campaign Created', else the earliest send_date;
-- run_end = completed_date. token = rid; sender / subject come from smtp / template when present.
WITH res AS (
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
    FROM raw_gophish_api_json WHERE record_type = 'result'
), runs AS (
    SELECT customer, load_id, campaign,
           coalesce(min(launch_ts), min(event_ts) FILTER (WHERE message = 'Campaign Created'),
                    min(send_ts)) AS run_start,
           min(completed_ts) AS run_end
    FROM raw_gophish_api_json GROUP BY customer, load_id, campaign
), errs AS (
    SELECT customer, load_id, campaign, pt_norm_addr(email) AS recipient,
           arg_max(error, event_ts) AS last_error
    FROM raw_gophish_api_json
    WHERE record_type = 'event' AND message = 'Error Sending Email'
    GROUP BY customer, load_id, campaign, pt_norm_addr(email)
)
SELECT
    CAST(res.customer AS VARCHAR) AS customer,
    CAST(res.load_id AS BIGINT) AS load_id,
    CAST('gophish_api_json' AS VARCHAR) AS source_format,
    CAST(res.source_row AS BIGINT) AS source_row,
    CAST(res.campaign AS VARCHAR) AS campaign,
    CAST(res.campaign AS VARCHAR) AS run,
    CAST(runs.run_start AS TIMESTAMPTZ) AS run_start,
    CAST(runs.run_end AS TIMESTAMPTZ) AS run_end,
    CAST(pt_norm_addr(res.email) AS VARCHAR) AS recipient,
    CAST(res.first_name AS VARCHAR) AS first_name,
    CAST(res.last_name AS VARCHAR) AS last_name,
    CAST(res.norm_status AS VARCHAR) AS status,
    CAST(res.status AS VARCHAR) AS platform_status,
    CAST(CASE WHEN res.norm_status IN ('scheduled', 'failed') THEN res.send_ts END AS TIMESTAMPTZ) AS scheduled_at,
    CAST(CASE WHEN res.norm_status IN ('sent', 'opened', 'clicked', 'entered_data') THEN res.send_ts END AS TIMESTAMPTZ) AS sent_at,
    CAST(NULL AS TIMESTAMPTZ) AS delivered_at,
    CAST(NULL AS TIMESTAMPTZ) AS bounced_at,
    CAST(CASE WHEN res.norm_status IN ('scheduled', 'failed') THEN errs.last_error END AS VARCHAR) AS bounce_reason,
    CAST(pt_norm_addr(res.sender) AS VARCHAR) AS sender,
    CAST(res.subject AS VARCHAR) AS subject,
    CAST(NULL AS VARCHAR) AS message_id,
    CAST(res.rid AS VARCHAR) AS token,
    CAST(NULL AS BOOLEAN) AS learner_bounced
FROM res
JOIN runs ON runs.customer = res.customer AND runs.load_id = res.load_id AND runs.campaign = res.campaign
LEFT JOIN errs ON errs.customer = res.customer AND errs.load_id = res.load_id AND errs.campaign = res.campaign
              AND errs.recipient = pt_norm_addr(res.email)
