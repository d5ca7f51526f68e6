-- A dotted-quad IPv4 address as a number (NULL for anything else, IPv6 included).
CREATE OR REPLACE MACRO pt_ipv4_num(ip) AS (
    CASE WHEN regexp_full_match(ip, '(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}')
         THEN CAST(split_part(ip, '.', 1) AS BIGINT) * 16777216 + CAST(split_part(ip, '.', 2) AS BIGINT) * 65536
              + CAST(split_part(ip, '.', 3) AS BIGINT) * 256 + CAST(split_part(ip, '.', 4) AS BIGINT) END)
