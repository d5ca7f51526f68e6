"""Each customer's loaded data as hive-partitioned Parquet: `export()` writes every table that holds
what was loaded or set for a customer (the raw_<format> tables, load_manifest, load_rejects,
customer_senders, recipient_aliases, customer_scanners) as `<folder>/<table>/customer=<name>/data.parquet`,
which DuckDB (and any engine that reads hive partitions) queries in place; `import_folder()` loads such a folder into a workspace in
one transaction, load ids renumbered, and recomputes the models. The models themselves are not
exported: they are a function of these tables and the settings."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from urllib.parse import quote

import duckdb

from phishtrace import registry, views
from phishtrace.db import quote_ident, require_loaded, scalar
from phishtrace.errors import PhishtraceError, one_line

# tables keyed by customer besides the raw tables
CUSTOMER_TABLES = ("load_manifest", "load_rejects", "customer_senders", "recipient_aliases", "customer_scanners")
FILE_NAME = "data.parquet"
# old (customer, load_id) -> new load_id while a folder is imported
LOAD_MAP = "_pt_import_loads"


def tables() -> list[str]:
    return [*CUSTOMER_TABLES, *sorted({loader.table for loader in registry.loaders().values()})]


def partition(folder: Path, table: str, customer: str) -> Path:
    """The folder of one customer's rows of one table (the name percent-encoded, as DuckDB writes and
    reads hive partition values)."""
    return folder / table / f"customer={quote(customer, safe='')}"


def export(con: duckdb.DuckDBPyConnection, folder: Path, customers: list[str] | None = None) -> dict[str, int]:
    """Write the customers' tables (None: every customer) and return rows written per table. A
    customer's earlier export in `folder` is replaced whole; other customers' partitions are kept."""
    chosen = None if customers is None else list(dict.fromkeys(customers))
    known = require_loaded(con, chosen or [])
    chosen = known if chosen is None else chosen
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
        raise PhishtraceError(f"{folder}/load_manifest: not readable as Parquet: {one_line(exc)}") from None
    present = {r[0] for r in con.execute(
        " UNION ".join(f"SELECT customer FROM {quote_ident(t)}" for t in CUSTOMER_TABLES)).fetchall()}
    clash = [c for c in incoming if c in present]
    if clash:
        raise PhishtraceError(f"customer {clash[0]!r} already has data in this workspace: importing would "
                              "mix two copies (import into another workspace)")
    counts: dict[str, int] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        # each imported load (customer, its old id) takes the next id of this workspace's sequence: a
        # folder may hold customers exported from different workspaces, whose ids overlap
        con.execute(f"CREATE TEMPORARY TABLE {LOAD_MAP} AS SELECT customer, load_id AS old_id, "
                    "nextval('load_id_seq') AS new_id FROM (SELECT customer, load_id FROM read_parquet(?, "
                    "hive_partitioning = false) ORDER BY customer, load_id)", [manifest])
        for table, paths in files.items():
            shift = "load_id" in _columns(con, table)
            for path in paths:
                counts[table] = counts.get(table, 0) + _insert_file(con, table, path, shift, folder)
        views.recompute(con)
        con.execute(f"DROP TABLE {LOAD_MAP}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts


def _insert_file(con: duckdb.DuckDBPyConnection, table: str, path: Path, shift: bool, folder: Path) -> int:
    """Insert one Parquet file into its table (load ids mapped through LOAD_MAP); the rows inserted."""
    source = "read_parquet(?, hive_partitioning = false)"
    try:
        if shift and table != "load_manifest":
            orphans = scalar(con, f"SELECT count(*) FROM {source} p ANTI JOIN {LOAD_MAP} m "
                                  "ON m.customer = p.customer AND m.old_id = p.load_id", [str(path)])
            if orphans:
                raise PhishtraceError(f"{path}: {orphans} row(s) belong to no load in "
                                      f"{folder / 'load_manifest'}")
        select = (f"SELECT p.* REPLACE (m.new_id AS load_id) FROM {source} p JOIN {LOAD_MAP} m "
                  "ON m.customer = p.customer AND m.old_id = p.load_id" if shift else f"SELECT * FROM {source}")
        return scalar(con, f"INSERT INTO {quote_ident(table)} BY NAME {select}", [str(path)])
    except duckdb.Error as exc:
        raise PhishtraceError(f"{path}: cannot be loaded into {table}: {one_line(exc)}") from None


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ?",
        [table]).fetchall()]
