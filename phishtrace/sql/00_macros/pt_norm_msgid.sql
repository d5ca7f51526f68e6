-- Message-ID without <> and whitespace (space, tab, CR, LF), the domain part lower-cased (formats.md §4.3).
CREATE OR REPLACE MACRO pt_norm_msgid(x) AS (
    CASE WHEN x IS NULL OR trim(CAST(x AS VARCHAR), ' <>' || chr(9) || chr(10) || chr(13)) = '' THEN NULL
         WHEN strpos(trim(CAST(x AS VARCHAR), ' <>' || chr(9) || chr(10) || chr(13)), '@') > 0 THEN
             split_part(trim(CAST(x AS VARCHAR), ' <>' || chr(9) || chr(10) || chr(13)), '@', 1) || '@' ||
             lower(substr(trim(CAST(x AS VARCHAR), ' <>' || chr(9) || chr(10) || chr(13)),
                          strpos(trim(CAST(x AS VARCHAR), ' <>' || chr(9) || chr(10) || chr(13)), '@') + 1))
         ELSE trim(CAST(x AS VARCHAR), ' <>' || chr(9) || chr(10) || chr(13)) END)
