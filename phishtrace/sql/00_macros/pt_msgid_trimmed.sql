-- pt_norm_msgid of an already trimmed Message-ID: NULL when empty, the part after '@' lower-cased.
CREATE OR REPLACE MACRO pt_msgid_trimmed(t) AS (
    CASE WHEN t = '' THEN NULL
         WHEN strpos(t, '@') > 0 THEN split_part(t, '@', 1) || '@' || lower(substr(t, strpos(t, '@') + 1))
         ELSE t END)
