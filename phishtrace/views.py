"""Create the SQL views from phishtrace/sql/<layer>/<view>.sql (file stem = view name)."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import duckdb

from phishtrace.db import quote_ident
from phishtrace.errors import PhishtraceError

LAYERS = ("10_staging", "20_intermediate", "30_marts")

# helpers available to every view
MACROS = [
    # Message-ID without <> and whitespace, domain part lower-cased
    """CREATE OR REPLACE MACRO pt_norm_msgid(x) AS (
        CASE WHEN x IS NULL OR trim(CAST(x AS VARCHAR), ' <>\t\r\n') = '' THEN NULL
             WHEN strpos(trim(CAST(x AS VARCHAR), ' <>\t\r\n'), '@') > 0 THEN
                 split_part(trim(CAST(x AS VARCHAR), ' <>\t\r\n'), '@', 1) || '@' ||
                 lower(substr(trim(CAST(x AS VARCHAR), ' <>\t\r\n'),
                              strpos(trim(CAST(x AS VARCHAR), ' <>\t\r\n'), '@') + 1))
             ELSE trim(CAST(x AS VARCHAR), ' <>\t\r\n') END)""",
    # e-mail address without <>, trimmed, lower-case
    """CREATE OR REPLACE MACRO pt_norm_addr(x) AS (
        CASE WHEN x IS NULL OR trim(CAST(x AS VARCHAR), ' <>\t\r\n"''') = '' THEN NULL
             ELSE lower(trim(CAST(x AS VARCHAR), ' <>\t\r\n"''')) END)""",
    # domain of an address
    """CREATE OR REPLACE MACRO pt_domain(x) AS (
        CASE WHEN strpos(x, '@') > 0 THEN lower(split_part(x, '@', -1)) ELSE lower(x) END)""",
    # a session variable with a default
    """CREATE OR REPLACE MACRO pt_var(name, dflt) AS (coalesce(getvariable(name), dflt))""",
]


def sql_files() -> list[tuple[str, str, str]]:
    """(layer, view name, SQL text) for every view file, layer by layer."""
    base = resources.files("phishtrace") / "sql"
    out = []
    for layer in LAYERS:
        folder = base / layer
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".sql"):
                out.append((layer, Path(entry.name).stem, entry.read_text(encoding="utf-8")))
    return out


def fingerprint() -> str:
    h = hashlib.sha256()
    for layer, name, text in sql_files():
        h.update(f"{layer}/{name}\n{text}\n".encode())
    return h.hexdigest()[:16]


def build(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create every macro and view; views are created in dependency order by retrying."""
    for macro in MACROS:
        con.execute(macro)
    pending = sql_files()
    while pending:
        failed = []
        errors = {}
        for layer, name, text in pending:
            body = text.strip().rstrip(";")
            try:
                con.execute(f"CREATE OR REPLACE VIEW {quote_ident(name)} AS\n{body}")
            except duckdb.CatalogException as exc:
                failed.append((layer, name, text))
                errors[name] = exc
            except duckdb.Error as exc:
                raise PhishtraceError(f"phishtrace/sql/{layer}/{name}.sql: {exc}") from None
        if len(failed) == len(pending):
            name = failed[0][1]
            raise PhishtraceError(f"phishtrace/sql/{failed[0][0]}/{name}.sql: {errors[name]}")
        pending = failed
    con.execute("CREATE TABLE IF NOT EXISTS phishtrace_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute("INSERT OR REPLACE INTO phishtrace_meta VALUES ('views', ?)", [fingerprint()])
