"""Each customer's loaded data as hive-partitioned Parquet: `export()` writes every table that holds
what was loaded or set for a customer (the raw_<format> tables, load_manifest, load_rejects,
customer_senders, recipient_aliases, customer_scanners) as `<folder>/<table>/customer=<name>/data.parquet`, which DuckDB (and any engine
that reads hive partitions) queries in place; `import_folder()` loads such a folder into a workspace in
one transaction, load ids renumbered, and recomputes the models. The models themselves are not
exported: they are a function of these tables and the settings."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from urllib.parse import quote

import duckdb

from phishtrace import registry, views
from phishtrace.db import quote_ident, scalar
from phishtrace.errors import PhishtraceError

# tables keyed by customer besides the raw tables
CUSTOMER_TABLES = ("load_manifest", "load_rejects", "customer_senders", "recipient_aliases", "customer_scanners")
FILE_NAME = "data.parquet"


def tables() -> list[str]:
    return [*CUSTOMER_TABLES, *sorted({loader.table for loader in registry.loaders().values()})]


def partition(folder: Path, table: str, customer: str) -> Path:
    """The folder of one customer's rows of one table (the name percent-encoded, as DuckDB writes and
    reads hive partition values)."""
    return folder / table / f"customer={quote(customer, safe='')}"


def export(con: duckdb.DuckDBPyConnection, folder: Path, customers: list[str] | None = None) -> dict[str, int]:
    """Write the customers' tables (None: every customer) and return rows written per table. A
    customer's earlier export in `folder` is replaced whole; other customers' partitions are kept."""
    known = [r[0] for r in con.execute("SELECT DISTINCT customer FROM load_manifest ORDER BY 1").fetchall()]
    chosen = known if customers is None else list(dict.fromkeys(customers))
    missing = [c for c in chosen if c not in known]
    if missing:
        raise PhishtraceError(f"no data loaded for customer {missing[0]!r} (loaded: {', '.join(known) or 'none'})")
    if not chosen:
        raise PhishtraceError("nothing to export: no customer has data loaded")
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".export-{uuid.uuid4().hex}"
    written: dict[str, int] = {}
    try:
        con.execute("BEGIN TRANSACTION")  # one snapshot of every table
        try:
            for customer in chosen:
                for table in tables():
                    rows = scalar(con, f"SELECT count(*) FROM {quote_ident(table)} WHERE customer = ?", [customer])
                    if rows:
                        target = partition(staging, table, customer)
                        target.mkdir(parents=True)
                        order = "load_id, source_row" if table.startswith("raw_") else "ALL"
                        con.sql(f"SELECT * FROM {quote_ident(table)} WHERE customer = ? ORDER BY {order}",
                                params=[customer]).write_parquet(str(target / FILE_NAME), compression="zstd")
                        written[table] = written.get(table, 0) + rows
        finally:
            con.execute("COMMIT")
        for customer in chosen:
            for table in tables():
                old, new = partition(folder, table, customer), partition(staging, table, customer)
                if old.exists():
                    shutil.rmtree(old)
                if new.exists():
                    old.parent.mkdir(parents=True, exist_ok=True)
                    new.rename(old)
    except OSError as exc:
        raise PhishtraceError(f"{folder}: cannot write the export: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written


def import_folder(con: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, int]:
    """Load an export() folder into the workspace and recompute the models; returns rows per table.
    Refused whole (nothing loaded) when a file cannot be read as its table or a customer in it
    already has data in this workspace."""
    files = {table: sorted((folder / table).glob(f"customer=*/{FILE_NAME}")) for table in tables()}
    files = {table: found for table, found in files.items() if found}
    if "load_manifest" not in files:
        raise PhishtraceError(f"{folder}: no phishtrace Parquet export here "
                              f"(expected load_manifest/customer=<name>/{FILE_NAME})")
    manifest = [str(p) for p in files["load_manifest"]]
    try:
        incoming = [r[0] for r in con.execute(
            "SELECT DISTINCT customer FROM read_parquet(?, hive_partitioning = false) ORDER BY 1", [manifest]).fetchall()]
    except duckdb.Error as exc:
        raise PhishtraceError(f"{folder}/load_manifest: not readable as Parquet: {_first_line(exc)}") from None
    present = {r[0] for r in con.execute("SELECT DISTINCT customer FROM load_manifest").fetchall()}
    clash = [c for c in incoming if c in present]
    if clash:
        raise PhishtraceError(f"customer {clash[0]!r} already has data in this workspace: importing would "
                              "mix two copies (import into another workspace)")
    counts: dict[str, int] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        low, high = con.execute("SELECT min(load_id), max(load_id) FROM read_parquet(?, hive_partitioning = false)",
                                [manifest]).fetchall()[0]
        # the imported loads take the next ids of this workspace's sequence, in their order
        first = scalar(con, "SELECT nextval('load_id_seq')")
        if high > low:
            con.execute("SELECT max(nextval('load_id_seq')) FROM range(?)", [high - low])
        offset = first - low
        for table, paths in files.items():
            shift = "load_id" in _columns(con, table)
            select = "* REPLACE (load_id + ? AS load_id)" if shift else "*"
            for path in paths:
                try:
                    before = scalar(con, f"SELECT count(*) FROM {quote_ident(table)}")
                    con.execute(f"INSERT INTO {quote_ident(table)} BY NAME SELECT {select} "
                                "FROM read_parquet(?, hive_partitioning = false)",
                                [offset, str(path)] if shift else [str(path)])
                    counts[table] = counts.get(table, 0) + scalar(con, f"SELECT count(*) FROM {quote_ident(table)}") - before
                except duckdb.Error as exc:
                    raise PhishtraceError(f"{path}: cannot be loaded into {table}: {_first_line(exc)}") from None
        for table in files:
            if table != "load_manifest" and "load_id" in _columns(con, table):
                orphans = scalar(con, f"SELECT count(*) FROM {quote_ident(table)} WHERE load_id BETWEEN ? AND ? "
                                 "AND load_id NOT IN (SELECT load_id FROM load_manifest)", [first, high + offset])
                if orphans:
                    raise PhishtraceError(f"{folder / table}: {orphans} row(s) belong to no load in load_manifest")
        views.recompute(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ?",
        [table]).fetchall()]


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
