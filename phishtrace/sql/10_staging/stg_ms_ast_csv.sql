-- Attack simulation training user export rows as platform messages (formats.md §1.4, §5.1;
-- docs/architecture.md, platform staging views). Delivery is binary: FailedToDeliverEmail (or
-- JustSimulationMessageFailed) → bounced with bounced_at; SuccessfullyDeliveredEmail (or
-- JustSimulationMessageDelivered) → delivered_at. The status is the furthest stage with a time:
-- bounced > entered_data (CredSupplied) > clicked (EmailLinkClicked, AttachmentLinkClicked,
-- AttachmentOpened) > replied > opened (MessageRead) > delivered; a row with no delivery time is 'sent'
-- (result unknown). platform_status lists the columns with a time. No send time: sent_at stays NULL.
-- run_start = the earliest delivery time of the simulation (every load).
WITH r AS (
    SELECT *,
           coalesce(delivered_ts, just_sim_delivered_ts) AS delivered_at,
           coalesce(failed_ts, just_sim_failed_ts) AS bounced_at
    FROM raw_ms_ast_csv
), s AS (
    SELECT *,
           CASE WHEN bounced_at IS NOT NULL THEN 'bounced'
                WHEN cred_supplied_ts IS NOT NULL THEN 'entered_data'
                WHEN coalesce(link_clicked_ts, attachment_link_clicked_ts, attachment_opened_ts) IS NOT NULL
                    THEN 'clicked'
                WHEN message_replied_ts IS NOT NULL THEN 'replied'
                WHEN message_read_ts IS NOT NULL THEN 'opened'
                WHEN delivered_at IS NOT NULL THEN 'delivered'
                ELSE 'sent'
           END AS norm_status,
           nullif(concat_ws(',',
               CASE WHEN delivered_ts IS NOT NULL THEN 'SuccessfullyDeliveredEmail' END,
               CASE WHEN just_sim_delivered_ts IS NOT NULL THEN 'JustSimulationMessageDelivered' END,
               CASE WHEN failed_ts IS NOT NULL THEN 'FailedToDeliverEmail' END,
               CASE WHEN just_sim_failed_ts IS NOT NULL THEN 'JustSimulationMessageFailed' END,
               CASE WHEN message_read_ts IS NOT NULL THEN 'MessageRead' END,
               CASE WHEN link_clicked_ts IS NOT NULL THEN 'EmailLinkClicked' END,
               CASE WHEN attachment_opened_ts IS NOT NULL THEN 'AttachmentOpened' END,
               CASE WHEN attachment_link_clicked_ts IS NOT NULL THEN 'AttachmentLinkClicked' END,
               CASE WHEN cred_supplied_ts IS NOT NULL THEN 'CredSupplied' END,
               CASE WHEN message_replied_ts IS NOT NULL THEN 'MessageReplied' END,
               CASE WHEN message_forwarded_ts IS NOT NULL THEN 'MessageForwarded' END,
               CASE WHEN message_deleted_ts IS NOT NULL THEN 'MessageDeleted' END,
               CASE WHEN reported_ts IS NOT NULL THEN 'PhishingReported' END), '') AS set_columns
    FROM r
), runs AS (
    SELECT customer, campaign, run, min(coalesce(delivered_at, bounced_at)) AS run_start
    FROM r
    GROUP BY customer, campaign, run
)
SELECT
    CAST(s.customer AS VARCHAR) AS customer,
    CAST(s.load_id AS BIGINT) AS load_id,
    CAST('ms_ast_csv' AS VARCHAR) AS source_format,
    CAST(s.source_row AS BIGINT) AS source_row,
    CAST(s.campaign AS VARCHAR) AS campaign,
    CAST(s.run AS VARCHAR) AS run,
    CAST(runs.run_start AS TIMESTAMPTZ) AS run_start,
    CAST(NULL AS TIMESTAMPTZ) AS run_end,
    CAST(pt_norm_addr(s.user_address) AS VARCHAR) AS recipient,
    CAST(NULL AS VARCHAR) AS first_name,
    CAST(NULL AS VARCHAR) AS last_name,
    CAST(s.norm_status AS VARCHAR) AS status,
    CAST(s.set_columns AS VARCHAR) AS platform_status,
    CAST(NULL AS TIMESTAMPTZ) AS scheduled_at,
    CAST(NULL AS TIMESTAMPTZ) AS sent_at,
    CAST(s.delivered_at AS TIMESTAMPTZ) AS delivered_at,
    CAST(s.bounced_at AS TIMESTAMPTZ) AS bounced_at,
    CAST(CASE WHEN s.failed_ts IS NOT NULL THEN 'delivery failed (FailedToDeliverEmail_TimeStamp)'
              WHEN s.just_sim_failed_ts IS NOT NULL THEN 'delivery failed (JustSimulationMessageFailed_TimeStamp)'
         END AS VARCHAR) AS bounce_reason,
    CAST(NULL AS VARCHAR) AS sender,
    CAST(NULL AS VARCHAR) AS subject,
    CAST(NULL AS VARCHAR) AS message_id,
    CAST(NULL AS VARCHAR) AS token,
    CAST(NULL AS BOOLEAN) AS learner_bounced
FROM s
JOIN runs ON runs.customer = s.customer AND runs.campaign = s.campaign AND runs.run = s.run
