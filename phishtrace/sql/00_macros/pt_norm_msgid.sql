-- Message-ID without <> and whitespace (space, tab, CR, LF), the domain part lower-cased (formats.md §4.3).
-- The trimmed value is computed once and handed to pt_msgid_trimmed.
CREATE OR REPLACE MACRO pt_norm_msgid(x) AS (
    pt_msgid_trimmed(trim(CAST(x AS VARCHAR), ' <>' || chr(9) || chr(10) || chr(13))))
