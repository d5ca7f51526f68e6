"""The DuckDB workspace file: connection, bookkeeping tables, identifier quoting."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from phishtrace.errors import PhishtraceError

DEFAULT_DB = "phishtrace.duckdb"

BOOKKEEPING = {
    "load_manifest": """
        load_id BIGINT PRIMARY KEY,
        customer VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        format VARCHAR NOT NULL,
        hop VARCHAR NOT NULL,
        rows_loaded BIGINT NOT NULL,
        rows_rejected BIGINT NOT NULL,
        tz_assumption VARCHAR,
        window_start TIMESTAMPTZ,
        window_end TIMESTAMPTZ,
        loaded_at TIMESTAMPTZ NOT NULL
    """,
    "load_rejects": """
        load_id BIGINT NOT NULL,
        customer VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        line BIGINT,
        reason VARCHAR NOT NULL
    """,
    # campaign senders given on the command line (ingest --sender): addresses or domains
    "customer_senders": """
        customer VARCHAR NOT NULL,
        sender VARCHAR NOT NULL
    """,
    # recipient aliases (alias -> primary address), per customer
    "recipient_aliases": """
        customer VARCHAR NOT NULL,
        alias VARCHAR NOT NULL,
        primary_address VARCHAR NOT NULL
    """,
    # a customer's own link scanners (phishtrace scanners add): kind 'ip_prefix', 'ip_cidr' (IPv4) or 'user_agent'
    "customer_scanners": """
        customer VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        pattern VARCHAR NOT NULL,
        label VARCHAR NOT NULL
    """,
    # how many days back a source can still be fetched from its vendor, shipped in data/retention.csv
    "ref_retention": """
        format VARCHAR NOT NULL,
        days INTEGER NOT NULL,
        how VARCHAR NOT NULL
    """,
    # known link scanners: kind 'ip_prefix' or 'user_agent' (substring), shipped in data/scanners.csv
    "ref_scanners": """
        kind VARCHAR NOT NULL,
        pattern VARCHAR NOT NULL,
        label VARCHAR NOT NULL
    """,
}


def quote_ident(name: str) -> str:
    """Quote one SQL identifier; the only way a name enters SQL text."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise PhishtraceError(f"invalid SQL identifier {name!r}")
    return '"' + name.replace('"', '""') + '"'


def resolve_db_path(db: str | os.PathLike | None) -> str:
    """--db, else $PHISHTRACE_DB, else ./phishtrace.duckdb."""
    if db is None:
        db = os.environ.get("PHISHTRACE_DB") or DEFAULT_DB
    return str(db)


def connect(db: str | os.PathLike | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    path = resolve_db_path(db)
    config = {}
    mem = os.environ.get("PHISHTRACE_MEMORY_LIMIT")
    if mem:
        config["memory_limit"] = mem
    tmp = os.environ.get("PHISHTRACE_TEMP_DIR")
    if tmp:
        config["temp_directory"] = tmp
    if path != ":memory:":
        parent = Path(path).parent
        if read_only and not Path(path).exists():
            raise PhishtraceError(f"{path}: no such database; run 'phishtrace ingest' first")
        parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(path, read_only=read_only and path != ":memory:", config=config)
    except duckdb.Error as exc:
        raise PhishtraceError(f"{path}: cannot open database: {exc}") from None
    con.execute("SET TimeZone = 'UTC'")
    return con


def create_bookkeeping(con: duckdb.DuckDBPyConnection) -> None:
    for name, cols in BOOKKEEPING.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {quote_ident(name)} ({cols})")
    con.execute("CREATE SEQUENCE IF NOT EXISTS load_id_seq START 1")


def loaded_customers(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The customers that have data loaded, in name order."""
    return [r[0] for r in con.execute("SELECT DISTINCT customer FROM load_manifest ORDER BY customer").fetchall()]


def require_loaded(con: duckdb.DuckDBPyConnection, customers: list[str]) -> list[str]:
    """The loaded customers; PhishtraceError naming the first of `customers` that has no data loaded."""
    known = loaded_customers(con)
    missing = [c for c in customers if c not in known]
    if missing:
        raise PhishtraceError(f"no data loaded for customer {missing[0]!r} (loaded: {', '.join(known) or 'none'})")
    return known


def first_row(con: duckdb.DuckDBPyConnection, sql: str, params: list | tuple = ()):
    """The first row of a query, or None. Reads the whole result, so the connection is free afterwards
    (DuckDB 2 keeps a partly fetched result open and refuses other work until it is finished)."""
    rows = con.execute(sql, list(params)).fetchall()
    return rows[0] if rows else None


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | tuple = ()):
    row = first_row(con, sql, params)
    return None if row is None else row[0]
