-- An e-mail address without <>, quotes or whitespace (space, tab, CR, LF) around it, lower-case.
CREATE OR REPLACE MACRO pt_norm_addr(x) AS (
    CASE WHEN x IS NULL OR trim(CAST(x AS VARCHAR), ' <>"''' || chr(9) || chr(10) || chr(13)) = '' THEN NULL
         ELSE lower(trim(CAST(x AS VARCHAR), ' <>"''' || chr(9) || chr(10) || chr(13))) END)
