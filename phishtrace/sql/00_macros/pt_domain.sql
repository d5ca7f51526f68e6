-- The domain of an address (or the value itself when it is already a domain), lower-case.
CREATE OR REPLACE MACRO pt_domain(x) AS (
    CASE WHEN strpos(x, '@') > 0 THEN lower(split_part(x, '@', -1)) ELSE lower(x) END)
