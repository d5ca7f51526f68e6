-- A session variable (SET VARIABLE name = ...) with a default: how views take settings without parameters.
CREATE OR REPLACE MACRO pt_var(name, dflt) AS (coalesce(getvariable(name), dflt))
