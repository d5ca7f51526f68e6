-- The interaction a GoPhish event message records (formats.md §1.1.3), NULL for the others (Email Sent,
-- Error Sending Email, Campaign Created). Shared by the events CSV and API timeline views.
CREATE OR REPLACE MACRO pt_gophish_interaction_kind(message) AS (
    CASE message
        WHEN 'Email Opened' THEN 'opened'
        WHEN 'Clicked Link' THEN 'clicked'
        WHEN 'Submitted Data' THEN 'entered_data'
        WHEN 'Email Reported' THEN 'reported'
    END)
