-- Inbox-rule records (action rule_created) whose conditions match a campaign message: same mailbox; every
-- condition the rule has must match (From: the message's sender address or domain; subject words: one of
-- them in the message's subject), as Exchange ANDs a rule's conditions; the rule existed before the end of
-- the matching window. A rule that neither moves nor deletes (location NULL) is not evidence.
WITH rules AS (
    SELECT * FROM int_mail_events WHERE action = 'rule_created' AND location IS NOT NULL
), senders AS (
    SELECT r.event_id, lower(trim(s.value, ' <>')) AS cond
    FROM rules r, unnest(string_split(coalesce(r.sender, ''), '|')) AS s(value)
    WHERE trim(s.value) <> ''
), words AS (
    SELECT r.event_id, lower(trim(w.value)) AS word
    FROM rules r, unnest(string_split(coalesce(r.subject, ''), '|')) AS w(value)
    WHERE trim(w.value) <> ''
), pairs AS (
    SELECT m.message_key, r.*,
           EXISTS (SELECT 1 FROM senders s WHERE s.event_id = r.event_id) AS has_sender_cond,
           EXISTS (SELECT 1 FROM words w WHERE w.event_id = r.event_id) AS has_subject_cond,
           EXISTS (SELECT 1 FROM senders s WHERE s.event_id = r.event_id
                   AND (s.cond = m.sender OR ltrim(s.cond, '@') = pt_domain(m.sender))) AS sender_ok,
           EXISTS (SELECT 1 FROM words w WHERE w.event_id = r.event_id
                   AND strpos(lower(coalesce(m.subject, '')), w.word) > 0) AS subject_ok
    FROM rules r
    JOIN int_messages m ON m.customer = r.customer AND m.recipient = r.recipient
    WHERE m.sent_ts IS NOT NULL
      AND r.event_ts <= m.sent_ts + to_hours(CAST(pt_var('pt_window_hours', 72) AS BIGINT))
)
SELECT message_key, event_id, event_ts, location, reason, source_format, load_id, source_row, raw_status,
       CASE WHEN has_sender_cond AND has_subject_cond THEN 'sender and subject'
            WHEN has_sender_cond THEN 'sender' ELSE 'subject' END AS matched_on
FROM pairs
WHERE (has_sender_cond OR has_subject_cond)
  AND (NOT has_sender_cond OR sender_ok)
  AND (NOT has_subject_cond OR subject_ok)
QUALIFY row_number() OVER (PARTITION BY message_key ORDER BY event_ts DESC, source_row DESC) = 1
