-- An e-mail address without <>, quotes or whitespace (space, tab, CR, LF) around it, lower-case; NULL when
-- nothing is left (lower() of a non-empty text is never empty, so nullif after lower is the same test).
CREATE OR REPLACE MACRO pt_norm_addr(x) AS (
    nullif(lower(trim(CAST(x AS VARCHAR), ' <>"''' || chr(9) || chr(10) || chr(13))), ''))
