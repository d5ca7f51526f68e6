-- pt_norm_msgid of an already trimmed Message-ID: NULL when empty, the part after '@' lower-cased (a value
-- that is already all lower-case is returned as it is, without splitting it).
CREATE OR REPLACE MACRO pt_msgid_trimmed(t) AS (
    CASE WHEN t = '' THEN NULL
         WHEN strpos(t, '@') = 0 OR lower(t) = t THEN t
         ELSE split_part(t, '@', 1) || '@' || lower(substr(t, strpos(t, '@') + 1)) END)
