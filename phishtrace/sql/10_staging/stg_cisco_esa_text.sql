-- Cisco ESA text mail logs and bounce logs (formats.md §2.3.1, §2.3.2, §5.2) as canonical filter-hop
-- mail events: the per-line facts of raw_cisco_esa_text stitched into one message per recipient.
-- Key: (customer, syslog host, MID) over every load of the customer (file-form logs have no host).
-- A MID created by a quarantine release / split ('rewritten to', 'was split creating', 'was generated
-- based on') inherits recipients (by RID), sender, Message-ID, subject and URL token from the nearest
-- ancestor that has them.
--   MID n ICID m RID k To: <a>          -> received (recipient a)
--   MID n quarantined to "X", ISQ: Tagging MID n -> quarantined (location quarantine, reason X)
--   MID n released from quarantine "X"  -> released
--   MID n deleted from quarantine "X"   -> dropped (never delivered)
--   Message done DCID d MID n to RID [k] / MID n RID k done -> relayed (external; reason = the
--                                          Response text of that RID when logged)
--   MID n RID [k] Response '...'         -> only when no 'Message done' covers that RID: 2xx relayed,
--                                          4xx deferred, 5xx bounced (server)
--   Bounced: ...                         -> bounced; verdict_hop 'server' when the line carries the next
--                                          hop's SMTP reply ('5xx', [...]), else 'filter' (the ESA gave up)
--   Delayed: ...                         -> deferred
-- Token: the single GoPhish rid found in the MID's 'URL ... has reputation' lines, for a MID with at most
-- one recipient (a rid is per recipient; none when several rids or several recipients).
WITH RECURSIVE r AS (
    SELECT * REPLACE (pt_norm_addr(address) AS address, pt_norm_addr(sender) AS sender)
    FROM raw_cisco_esa_text
),
links AS (
    SELECT DISTINCT customer, host, related_mid AS child, mid AS parent
    FROM r WHERE kind = 'child' AND related_mid IS NOT NULL AND related_mid <> mid
),
lineage(customer, host, mid, ancestor, depth) AS (
    SELECT DISTINCT customer, host, mid, mid, 0 FROM r WHERE mid IS NOT NULL
    UNION ALL
    SELECT w.customer, w.host, w.mid, l.parent, w.depth + 1
    FROM lineage w
    JOIN links l ON l.customer = w.customer AND l.host IS NOT DISTINCT FROM w.host AND l.child = w.ancestor
    WHERE w.depth < 8
),
attrs AS (
    SELECT customer, host, mid,
           max(value) FILTER (WHERE kind = 'message_id') AS message_id,
           max(value) FILTER (WHERE kind = 'subject') AS subject,
           max(address) FILTER (WHERE kind = 'from') AS sender,
           count(*) FILTER (WHERE kind = 'rcpt') AS n_rcpt
    FROM r GROUP BY customer, host, mid
),
menv AS (
    SELECT l.customer, l.host, l.mid,
           arg_min(a.message_id, l.depth) FILTER (WHERE a.message_id IS NOT NULL) AS message_id,
           arg_min(a.subject, l.depth) FILTER (WHERE a.subject IS NOT NULL) AS subject,
           arg_min(a.sender, l.depth) FILTER (WHERE a.sender IS NOT NULL) AS sender,
           min(l.depth) FILTER (WHERE a.n_rcpt > 0) AS rcpt_depth
    FROM lineage l
    JOIN attrs a ON a.customer = l.customer AND a.host IS NOT DISTINCT FROM l.host AND a.mid = l.ancestor
    GROUP BY l.customer, l.host, l.mid
),
mtok AS (
    SELECT l.customer, l.host, l.mid, min(t.token) AS token
    FROM lineage l
    JOIN r t ON t.customer = l.customer AND t.host IS NOT DISTINCT FROM l.host AND t.mid = l.ancestor
    WHERE t.kind = 'url' AND t.token IS NOT NULL
    GROUP BY l.customer, l.host, l.mid
    HAVING count(DISTINCT t.token) = 1
),
rcpts AS (
    SELECT customer, host, mid, rid, min(address) AS recipient
    FROM r WHERE kind = 'rcpt' GROUP BY customer, host, mid, rid
),
mrcpt AS (
    SELECT m.customer, m.host, m.mid, x.rid, x.recipient
    FROM menv m
    JOIN lineage l ON l.customer = m.customer AND l.host IS NOT DISTINCT FROM m.host AND l.mid = m.mid
                  AND l.depth = m.rcpt_depth
    JOIN rcpts x ON x.customer = l.customer AND x.host IS NOT DISTINCT FROM l.host AND x.mid = l.ancestor
),
mtok_single AS (
    SELECT k.customer, k.host, k.mid, k.token
    FROM mtok k
    WHERE (SELECT count(*) FROM mrcpt x WHERE x.customer = k.customer AND x.host IS NOT DISTINCT FROM k.host
                                          AND x.mid = k.mid) <= 1
),
responses AS (
    SELECT customer, host, mid, rid, min(value) AS response
    FROM r WHERE kind = 'response' GROUP BY customer, host, mid, rid
),
done_keys AS (
    SELECT DISTINCT customer, host, mid, rid FROM r WHERE kind = 'done'
),
ev AS (
    SELECT e.*
    FROM r e
    LEFT JOIN done_keys d ON e.kind = 'response' AND d.customer = e.customer
                         AND d.host IS NOT DISTINCT FROM e.host AND d.mid = e.mid AND d.rid = e.rid
    WHERE e.kind IN ('rcpt', 'quarantined', 'released', 'deleted', 'done', 'response', 'bounced', 'delayed')
      AND d.mid IS NULL
),
targeted AS (
    SELECT e.*,
           CASE WHEN e.kind = 'rcpt' OR e.address IS NOT NULL THEN e.address ELSE x.recipient END
               AS rcpt_addr
    FROM ev e
    LEFT JOIN mrcpt x ON e.kind <> 'rcpt' AND e.address IS NULL AND x.customer = e.customer
                     AND x.host IS NOT DISTINCT FROM e.host AND x.mid = e.mid
                     AND (e.rid IS NULL OR x.rid = e.rid)
),
mapped AS (
    SELECT t.*, m.message_id AS env_message_id, m.subject AS env_subject, m.sender AS env_sender,
           k.token AS env_token, p.response,
           CASE t.kind
               WHEN 'rcpt' THEN 'received'
               WHEN 'quarantined' THEN 'quarantined'
               WHEN 'released' THEN 'released'
               WHEN 'deleted' THEN 'dropped'
               WHEN 'done' THEN 'relayed'
               WHEN 'response' THEN CASE left(trim(t.value), 1) WHEN '2' THEN 'relayed' WHEN '4' THEN 'deferred'
                                                                 WHEN '5' THEN 'bounced' ELSE 'received' END
               WHEN 'bounced' THEN 'bounced'
               WHEN 'delayed' THEN 'deferred'
           END AS mapped_action
    FROM targeted t
    LEFT JOIN menv m ON m.customer = t.customer AND m.host IS NOT DISTINCT FROM t.host AND m.mid = t.mid
    LEFT JOIN mtok_single k ON k.customer = t.customer AND k.host IS NOT DISTINCT FROM t.host AND k.mid = t.mid
    LEFT JOIN responses p ON t.kind = 'done' AND p.customer = t.customer AND p.host IS NOT DISTINCT FROM t.host
                         AND p.mid = t.mid AND p.rid = t.rid
)
SELECT
    CAST(customer AS VARCHAR) AS customer,
    CAST(load_id AS BIGINT) AS load_id,
    CAST('cisco_esa_text' AS VARCHAR) AS source_format,
    CAST('filter' AS VARCHAR) AS hop,
    CAST(CASE
        WHEN kind = 'bounced' AND left(smtp_code, 1) = '5' THEN 'server'
        WHEN kind = 'response' AND mapped_action = 'bounced' THEN 'server'
        ELSE 'filter' END AS VARCHAR) AS verdict_hop,
    CAST(event_ts AS TIMESTAMPTZ) AS event_ts,
    CAST(pt_norm_msgid(env_message_id) AS VARCHAR) AS message_id,
    CAST(concat_ws(' ', host, 'MID ' || mid) AS VARCHAR) AS vendor_id,
    CAST(coalesce(sender, env_sender) AS VARCHAR) AS sender,
    CAST(rcpt_addr AS VARCHAR) AS recipient,
    CAST(env_subject AS VARCHAR) AS subject,
    CAST(mapped_action AS VARCHAR) AS action,
    CAST(CASE mapped_action WHEN 'quarantined' THEN 'quarantine' WHEN 'relayed' THEN 'external'
                            WHEN 'dropped' THEN 'none' END AS VARCHAR) AS location,
    CAST(CASE kind
        WHEN 'quarantined' THEN concat_ws(' ', value, detail)
        WHEN 'released' THEN concat_ws(' ', 'released from', value, detail)
        WHEN 'deleted' THEN concat_ws(' ', 'deleted from', value, detail)
        WHEN 'done' THEN coalesce(response, 'accepted by the next hop')
        WHEN 'response' THEN value
        WHEN 'bounced' THEN detail
        WHEN 'delayed' THEN detail
    END AS VARCHAR) AS reason,
    CAST(CASE kind
        WHEN 'rcpt' THEN 'To'
        WHEN 'quarantined' THEN 'quarantined to "' || value || '"'
        WHEN 'released' THEN 'released from quarantine'
        WHEN 'deleted' THEN 'deleted from quarantine'
        WHEN 'done' THEN 'Message done'
        WHEN 'response' THEN 'Response ' || split_part(trim(value), ' ', 1)
        WHEN 'bounced' THEN concat_ws(' ', 'Bounced', enhanced_code, smtp_code)
        WHEN 'delayed' THEN concat_ws(' ', 'Delayed', enhanced_code, smtp_code)
    END AS VARCHAR) AS raw_status,
    CAST(source_row AS BIGINT) AS source_row,
    CAST(NULL AS VARCHAR) AS url,
    CAST(env_token AS VARCHAR) AS token,
    CAST(NULL AS VARCHAR) AS client_ip,
    CAST(NULL AS VARCHAR) AS user_agent
FROM mapped
