"""The SQL models under phishtrace/sql/<layer>/<name>.sql (file stem = relation name).

Staging and mart models are views. Intermediate models are materialised as tables, refreshed after
every ingest: DuckDB binds a view by expanding every view it references, each time it is referenced,
so a stack of views that reuse one another (matching, hop states, outcomes) costs time exponential in
its depth (over two minutes just to create the outcome view); tables cut that to milliseconds. A
model can override its layer's default with a first-line comment `-- materialized: view|table`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import duckdb

from phishtrace.db import first_row, quote_ident
from phishtrace.errors import PhishtraceError

LAYERS = {"10_staging": "view", "20_intermediate": "table", "30_marts": "view"}

MACRO_LAYER = "00_macros"


@cache
def macros() -> tuple[tuple[str, str], ...]:
    """(name, CREATE MACRO statement) for every file in sql/00_macros (helpers available to every model),
    each after the macros it uses."""
    folder = resources.files("phishtrace") / "sql" / MACRO_LAYER
    found = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            found[Path(entry.name).stem] = entry.read_text(encoding="utf-8").strip().rstrip(";")
    ordered: list[tuple[str, str]] = []
    seen: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in seen:
            return
        if name in chain:
            raise PhishtraceError(f"SQL macros use each other in a cycle: {' -> '.join(chain + (name,))}")
        body = re.sub(r"--[^\n]*", " ", found[name]).split(" AS ", 1)[-1]
        for other in sorted(found):
            if other != name and re.search(rf"\b{re.escape(other)}\s*\(", body):
                visit(other, chain + (name,))
        seen.add(name)
        ordered.append((name, found[name]))

    for name in found:
        visit(name, ())
    return tuple(ordered)


def create_macros(con: duckdb.DuckDBPyConnection) -> None:
    for name, text in macros():
        try:
            con.execute(text)
        except duckdb.Error as exc:
            raise PhishtraceError(f"phishtrace/sql/{MACRO_LAYER}/{name}.sql: {exc}") from None


# session variables that change what the materialised models contain
MATERIALISED_SETTINGS = ("pt_window_before_minutes", "pt_window_hours")

_MATERIALIZED = re.compile(r"^\s*--\s*materialized:\s*(view|table)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Model:
    layer: str
    name: str
    sql: str
    kind: str  # view | table
    deps: tuple[str, ...]


@cache
def models() -> tuple[Model, ...]:
    """Every model in dependency order (a model comes after every model it references)."""
    base = resources.files("phishtrace") / "sql"
    found: list[tuple[str, str, str]] = []
    for layer in LAYERS:
        folder = base / layer
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".sql"):
                found.append((layer, Path(entry.name).stem, entry.read_text(encoding="utf-8")))
    names = {name for _, name, _ in found}
    by_name: dict[str, Model] = {}
    for layer, name, text in found:
        if name in by_name:
            raise PhishtraceError(f"two SQL models are named {name}")
        m = _MATERIALIZED.match(text)
        kind = m.group(1).lower() if m else LAYERS[layer]
        body = re.sub(r"--[^\n]*", " ", text)
        deps = tuple(sorted(n for n in names if n != name and re.search(rf"\b{re.escape(n)}\b", body)))
        by_name[name] = Model(layer, name, text.strip().rstrip(";"), kind, deps)
    ordered: list[Model] = []
    state: dict[str, int] = {}

    def visit(n: str, chain: tuple[str, ...]) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            raise PhishtraceError(f"SQL models reference each other in a cycle: {' -> '.join(chain + (n,))}")
        state[n] = 1
        for d in by_name[n].deps:
            visit(d, chain + (n,))
        state[n] = 2
        ordered.append(by_name[n])

    for n in sorted(by_name, key=lambda k: (list(LAYERS).index(by_name[k].layer), k)):
        visit(n, ())
    return tuple(ordered)


def fingerprint() -> str:
    h = hashlib.sha256()
    for m in models():
        h.update(f"{m.layer}/{m.name}/{m.kind}\n{m.sql}\n".encode())
    for name, text in macros():
        h.update(f"{name}\n{text}\n".encode())
    # (the shipped reference tables are reloaded when the fingerprint changes)
    for entry in sorted((resources.files("phishtrace") / "data").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".csv"):
            h.update(entry.name.encode() + b"\n" + entry.read_bytes())
    return h.hexdigest()[:16]


def _create(con: duckdb.DuckDBPyConnection, m: Model) -> None:
    verb = "VIEW" if m.kind == "view" else "TABLE"
    try:
        other = first_row(
            con, "SELECT table_type FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?",
            [m.name])
        if other and (other[0] == "VIEW") != (m.kind == "view"):
            con.execute(f"DROP {'VIEW' if other[0] == 'VIEW' else 'TABLE'} {quote_ident(m.name)}")
        con.execute(f"CREATE OR REPLACE {verb} {quote_ident(m.name)} AS\n{m.sql}")
    except duckdb.Error as exc:
        raise PhishtraceError(f"phishtrace/sql/{m.layer}/{m.name}.sql: {exc}") from None


def settings_key(con: duckdb.DuckDBPyConnection) -> str:
    values = []
    for name in MATERIALISED_SETTINGS:
        row = first_row(con, "SELECT CAST(getvariable(?) AS VARCHAR)", [name])
        values.append(f"{name}={row[0] if row else None}")
    return ";".join(values)


def build(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create macros, views and materialised models, in dependency order, in one transaction."""
    con.execute("BEGIN TRANSACTION")
    try:
        create_macros(con)
        for m in models():
            _create(con, m)
        con.execute("CREATE TABLE IF NOT EXISTS phishtrace_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        con.execute("INSERT OR REPLACE INTO phishtrace_meta VALUES ('views', ?)", [fingerprint()])
        con.execute("INSERT OR REPLACE INTO phishtrace_meta VALUES ('settings', ?)", [settings_key(con)])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def refresh(con: duckdb.DuckDBPyConnection) -> None:
    """Recompute the materialised models from the current raw tables, in one transaction."""
    con.execute("BEGIN TRANSACTION")
    try:
        recompute(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def recompute(con: duckdb.DuckDBPyConnection) -> None:
    """refresh() inside the caller's transaction."""
    for m in models():
        if m.kind == "table":
            _create(con, m)
    con.execute("INSERT OR REPLACE INTO phishtrace_meta VALUES ('settings', ?)", [settings_key(con)])


def stored_settings(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The MATERIALISED_SETTINGS the stored models were computed with (name -> value; unset ones left out)."""
    pairs = (item.split("=", 1) for item in (stored(con, "settings") or "").split(";") if "=" in item)
    return {name: value for name, value in pairs if name in MATERIALISED_SETTINGS and value != "None"}


def stored(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    try:
        row = first_row(con, "SELECT value FROM phishtrace_meta WHERE key = ?", [key])
    except duckdb.Error:
        return None
    return row[0] if row else None
