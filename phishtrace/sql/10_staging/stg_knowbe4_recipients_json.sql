-- KnowBe4 phishing security test recipients as platform messages (formats.md §1.2, §5.1;
-- docs/architecture.md, platform staging views). No status enum: the status is the furthest stage
-- whose timestamp is set (bounced_at > data_entered_at > clicked_at / attachment_opened_at /
-- macro_enabled_at / qr_code_scanned > replied_at > opened_at > delivered_at > scheduled); the
-- names of the set timestamps are kept as platform_status. sent_at stays NULL (KnowBe4 has no send
-- time; int_messages uses delivered_at). run_start = the earliest scheduled_at of the test (every load).
WITH r AS (
    SELECT *,
           CASE WHEN bounced_at IS NOT NULL THEN 'bounced'
                WHEN data_entered_at IS NOT NULL THEN 'entered_data'
                WHEN coalesce(clicked_at, attachment_opened_at, macro_enabled_at, qr_code_scanned) IS NOT NULL
                    THEN 'clicked'
                WHEN replied_at IS NOT NULL THEN 'replied'
                WHEN opened_at IS NOT NULL THEN 'opened'
                WHEN delivered_at IS NOT NULL THEN 'delivered'
                ELSE 'scheduled'
           END AS norm_status,
           nullif(concat_ws(',',
               CASE WHEN scheduled_at IS NOT NULL THEN 'scheduled_at' END,
               CASE WHEN delivered_at IS NOT NULL THEN 'delivered_at' END,
               CASE WHEN opened_at IS NOT NULL THEN 'opened_at' END,
               CASE WHEN clicked_at IS NOT NULL THEN 'clicked_at' END,
               CASE WHEN replied_at IS NOT NULL THEN 'replied_at' END,
               CASE WHEN attachment_opened_at IS NOT NULL THEN 'attachment_opened_at' END,
               CASE WHEN macro_enabled_at IS NOT NULL THEN 'macro_enabled_at' END,
               CASE WHEN data_entered_at IS NOT NULL THEN 'data_entered_at' END,
               CASE WHEN qr_code_scanned IS NOT NULL THEN 'qr_code_scanned' END,
               CASE WHEN reported_at IS NOT NULL THEN 'reported_at' END,
               CASE WHEN bounced_at IS NOT NULL THEN 'bounced_at' END), '') AS set_fields
    FROM raw_knowbe4_recipients_json
), runs AS (
    SELECT customer, campaign, run, min(scheduled_at) AS run_start
    FROM raw_knowbe4_recipients_json
    GROUP BY customer, campaign, run
)
SELECT
    CAST(r.customer AS VARCHAR) AS customer,
    CAST(r.load_id AS BIGINT) AS load_id,
    CAST('knowbe4_recipients_json' AS VARCHAR) AS source_format,
    CAST(r.source_row AS BIGINT) AS source_row,
    CAST(r.campaign AS VARCHAR) AS campaign,
    CAST(r.run AS VARCHAR) AS run,
    CAST(runs.run_start AS TIMESTAMPTZ) AS run_start,
    CAST(NULL AS TIMESTAMPTZ) AS run_end,
    CAST(pt_norm_addr(r.email) AS VARCHAR) AS recipient,
    CAST(r.first_name AS VARCHAR) AS first_name,
    CAST(r.last_name AS VARCHAR) AS last_name,
    CAST(r.norm_status AS VARCHAR) AS status,
    CAST(r.set_fields AS VARCHAR) AS platform_status,
    CAST(r.scheduled_at AS TIMESTAMPTZ) AS scheduled_at,
    CAST(NULL AS TIMESTAMPTZ) AS sent_at,
    CAST(r.delivered_at AS TIMESTAMPTZ) AS delivered_at,
    CAST(r.bounced_at AS TIMESTAMPTZ) AS bounced_at,
    CAST(NULL AS VARCHAR) AS bounce_reason,
    CAST(NULL AS VARCHAR) AS sender,
    CAST(NULL AS VARCHAR) AS subject,
    CAST(NULL AS VARCHAR) AS message_id,
    CAST(NULL AS VARCHAR) AS token,
    CAST(NULL AS BOOLEAN) AS learner_bounced
FROM r
JOIN runs ON runs.customer = r.customer AND runs.campaign = r.campaign AND runs.run = r.run
