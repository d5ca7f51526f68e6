-- Whether an IPv4 address lies in an IPv4 range 'a.b.c.d/n' (NULL when either is not IPv4).
CREATE OR REPLACE MACRO pt_ipv4_in_cidr(ip, cidr) AS (
    pt_ipv4_num(ip) // CAST(pow(2, 32 - CAST(split_part(cidr, '/', 2) AS INTEGER)) AS BIGINT)
    = pt_ipv4_num(split_part(cidr, '/', 1)) // CAST(pow(2, 32 - CAST(split_part(cidr, '/', 2) AS INTEGER)) AS BIGINT))
