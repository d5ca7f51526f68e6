-- GoPhish Events CSV as platform messages (formats.md §1.1.3, §1.1.4, §5.1; docs/architecture.md,
-- platform staging views): one row per recipient that has at least one event (recipients still
-- Scheduled have none). Rows are aggregated by time, not file order. Status = furthest event reached:
-- Submitted Data > Clicked Link > Email Opened > Email Sent / Email Reported (sent) > Error Sending
-- Email, where the last error decides: an SMTP 4xx reply means GoPhish backs off and retries
-- (scheduled), anything else is an Error (failed). sent_at = first Email Sent; bounce_reason = the last
-- error text while not sent. token = payload rid. run = campaign; run_start = Campaign Created.
WITH e AS (
    SELECT *, pt_norm_addr(email) AS recipient FROM raw_gophish_events_csv
), runs AS (
    SELECT customer, load_id, campaign,
           coalesce(min(event_ts) FILTER (WHERE message = 'Campaign Created'), min(event_ts)) AS run_start
    FROM e GROUP BY customer, load_id, campaign
), per AS (
    SELECT customer, load_id, campaign, recipient,
           min(source_row) AS source_row,
           min(event_ts) FILTER (WHERE message = 'Email Sent') AS sent_at,
           arg_max(error, event_ts) FILTER (WHERE message = 'Error Sending Email') AS last_error,
           count(*) FILTER (WHERE message = 'Error Sending Email') AS n_error,
           count(*) FILTER (WHERE message = 'Submitted Data') AS n_submitted,
           count(*) FILTER (WHERE message = 'Clicked Link') AS n_clicked,
           count(*) FILTER (WHERE message = 'Email Opened') AS n_opened,
           count(*) FILTER (WHERE message = 'Email Reported') AS n_reported,
           arg_min(rid, event_ts) FILTER (WHERE rid IS NOT NULL) AS token
    FROM e WHERE recipient IS NOT NULL
    GROUP BY customer, load_id, campaign, recipient
), s AS (
    SELECT *,
           CASE WHEN n_submitted > 0 THEN 'Submitted Data'
                WHEN n_clicked > 0 THEN 'Clicked Link'
                WHEN n_opened > 0 THEN 'Email Opened'
                WHEN sent_at IS NOT NULL THEN 'Email Sent'
                WHEN n_reported > 0 THEN 'Email Reported'
                WHEN n_error > 0 THEN 'Error Sending Email' END AS platform_status,
           CASE WHEN n_submitted > 0 THEN 'entered_data'
                WHEN n_clicked > 0 THEN 'clicked'
                WHEN n_opened > 0 THEN 'opened'
                WHEN sent_at IS NOT NULL OR n_reported > 0 THEN 'sent'
                WHEN regexp_matches(coalesce(last_error, ''), '^\s*4[0-9][0-9]\b') THEN 'scheduled'
                WHEN n_error > 0 THEN 'failed' END AS norm_status
    FROM per
)
SELECT
    CAST(s.customer AS VARCHAR) AS customer,
    CAST(s.load_id AS BIGINT) AS load_id,
    CAST('gophish_events_csv' AS VARCHAR) AS source_format,
    CAST(s.source_row AS BIGINT) AS source_row,
    CAST(s.campaign AS VARCHAR) AS campaign,
    CAST(s.campaign AS VARCHAR) AS run,
    CAST(runs.run_start AS TIMESTAMPTZ) AS run_start,
    CAST(NULL AS TIMESTAMPTZ) AS run_end,
    CAST(s.recipient AS VARCHAR) AS recipient,
    CAST(NULL AS VARCHAR) AS first_name,
    CAST(NULL AS VARCHAR) AS last_name,
    CAST(s.norm_status AS VARCHAR) AS status,
    CAST(s.platform_status AS VARCHAR) AS platform_status,
    CAST(NULL AS TIMESTAMPTZ) AS scheduled_at,
    CAST(s.sent_at AS TIMESTAMPTZ) AS sent_at,
    CAST(NULL AS TIMESTAMPTZ) AS delivered_at,
    CAST(NULL AS TIMESTAMPTZ) AS bounced_at,
    CAST(CASE WHEN s.norm_status IN ('failed', 'scheduled') THEN s.last_error END AS VARCHAR) AS bounce_reason,
    CAST(NULL AS VARCHAR) AS sender,
    CAST(NULL AS VARCHAR) AS subject,
    CAST(NULL AS VARCHAR) AS message_id,
    CAST(s.token AS VARCHAR) AS token,
    CAST(NULL AS BOOLEAN) AS learner_bounced
FROM s
JOIN runs USING (customer, load_id, campaign)
