"""A customer's own link scanners (besides the shipped list, data/scanners.csv): an interaction from one of
them is judged automated. Kinds: `ip_prefix` (the address starts with it), `ip_cidr` (an IPv4 range),
`user_agent` (a substring, any case). fct_interactions reads them at query time, so adding or removing
one re-judges every past interaction of that customer at once."""

from __future__ import annotations

import ipaddress

import duckdb
import polars as pl

from phishtrace.db import require_loaded, scalar
from phishtrace.errors import PhishtraceError

KINDS = ("ip_prefix", "ip_cidr", "user_agent")


def normalise(kind: str, pattern: str) -> str:
    """The pattern as stored; PhishtraceError when it cannot match anything."""
    if kind not in KINDS:
        raise PhishtraceError(f"scanner kind {kind!r}: use one of {', '.join(KINDS)}")
    value = (pattern or "").strip()
    if not value:
        raise PhishtraceError(f"an empty {kind} pattern would match every interaction")
    if kind == "ip_cidr":
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise PhishtraceError(f"{value!r} is not an IP range such as 203.0.113.0/24") from None
        if network.version != 4:
            raise PhishtraceError(f"{value!r}: IPv6 ranges are not supported; give the start of the address "
                                  "as an ip_prefix (e.g. 2a01:111:)")
        return str(network)
    return value


def add(con: duckdb.DuckDBPyConnection, customer: str, kind: str, pattern: str, label: str) -> str:
    require_loaded(con, [customer])
    value = normalise(kind, pattern)
    text = (label or "").strip() or value
    exists = scalar(con, "SELECT count(*) FROM customer_scanners WHERE customer = ? AND kind = ? AND pattern = ?",
                    [customer, kind, value])
    if exists:
        con.execute("UPDATE customer_scanners SET label = ? WHERE customer = ? AND kind = ? AND pattern = ?",
                    [text, customer, kind, value])
    else:
        con.execute("INSERT INTO customer_scanners VALUES (?, ?, ?, ?)", [customer, kind, value, text])
    return value


def remove(con: duckdb.DuckDBPyConnection, customer: str, pattern: str) -> int:
    """Remove the customer's scanners with this pattern (any kind); the number removed."""
    value = (pattern or "").strip()
    candidates = {value}
    try:
        candidates.add(normalise("ip_cidr", value))  # a range as given or as stored
    except PhishtraceError:
        pass
    found = scalar(con, "SELECT count(*) FROM customer_scanners WHERE customer = ? AND list_contains(?, pattern)",
                   [customer, sorted(candidates)])
    if not found:
        raise PhishtraceError(f"customer {customer!r} has no scanner {value!r} ('phishtrace scanners list' shows them)")
    con.execute("DELETE FROM customer_scanners WHERE customer = ? AND list_contains(?, pattern)",
                [customer, sorted(candidates)])
    return found


def listing(con: duckdb.DuckDBPyConnection, customer: str | None = None) -> pl.DataFrame:
    """The shipped scanners (scope 'shipped') and the customers' own (scope = customer), or only one
    customer's own plus the shipped ones."""
    return con.sql(
        "SELECT 'shipped' AS scope, kind, pattern, label FROM ref_scanners "
        "UNION ALL SELECT customer, kind, pattern, label FROM customer_scanners WHERE ? IS NULL OR customer = ? "
        "ORDER BY scope <> 'shipped', scope, kind, pattern", params=[customer, customer]).pl()
