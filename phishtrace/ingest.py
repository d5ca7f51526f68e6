"""Ingest one file: detect its format, parse it, and load it in one transaction (or not at all)."""

from __future__ import annotations

import hashlib
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from phishtrace import registry, textio
from phishtrace.db import first_row, quote_ident, scalar
from phishtrace.errors import InputError, PhishtraceError
from phishtrace.loaders import _bulk
from phishtrace.loaders._bulk import Bulk
from phishtrace.registry import Loader, Parsed, SourceFile
from phishtrace.timeparse import zone

# a file with a larger share of unreadable rows fails as a whole
MAX_REJECT_SHARE = 0.01
# files at least this large show a progress bar while they load (when stderr is a terminal)
PROGRESS_BYTES = 64 << 20
# bytes after which str.splitlines() starts a new line but DuckDB's line reader does not
_ODD_BREAKS = (b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e", b"\xc2\x85", b"\xe2\x80\xa8", b"\xe2\x80\xa9")

_POLARS_TYPES = {
    "VARCHAR": pl.Utf8,
    "JSON": pl.Utf8,
    "BIGINT": pl.Int64,
    "INTEGER": pl.Int64,
    "DOUBLE": pl.Float64,
    "BOOLEAN": pl.Boolean,
    "TIMESTAMPTZ": pl.Datetime("us", "UTC"),
}


@dataclass
class IngestResult:
    path: str
    format: str
    hop: str
    status: str  # loaded | unchanged | replaced
    load_id: int
    rows: int
    rejects: int


def split_spec(spec: str) -> tuple[Path, str | None]:
    """'path' or 'path:format' (format must be a known loader name)."""
    if ":" in spec:
        head, _, tail = spec.rpartition(":")
        if tail in registry.loaders():
            return Path(head), tail
    return Path(spec), None


def sha256_of(path: Path) -> str:
    return scan_file(path)[0]


@dataclass
class FileFacts:
    lines: int  # physical lines (a last line without a newline counts)
    odd_breaks: bool  # holds a line break that only Python's splitlines() honours
    nul: bool = False  # holds a NUL byte (the Python readers refuse or read it; bulk never sees it)


def scan_file(path: Path) -> tuple[str, FileFacts]:
    """SHA-256 and line facts of a file, in one pass (the hash in a second thread: hashlib releases
    the GIL while the line facts are counted)."""
    h = hashlib.sha256()
    newlines, odd, nul, last, tail = 0, False, False, b"", b""
    with path.open("rb") as fh, ThreadPoolExecutor(1) as pool:
        hashing = None
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            if hashing is not None:
                hashing.result()
            hashing = pool.submit(h.update, chunk)
            newlines += chunk.count(b"\n")
            nul = nul or b"\x00" in chunk
            if not odd:
                odd = _has_odd_break(tail + chunk)
                tail = chunk[-2:]
            last = chunk[-1:]
        if hashing is not None:
            hashing.result()
    lines = newlines + (1 if last and last != b"\n" else 0)
    return h.hexdigest(), FileFacts(lines, odd, nul)


def _has_odd_break(data: bytes) -> bool:
    """Whether the bytes hold one of _ODD_BREAKS (single-byte searches first: they run at memchr speed)."""
    if any(b in data for b in _ODD_BREAKS if len(b) == 1):
        return True
    if data.isascii():
        return False
    return any(b[-1:] in data and b in data for b in _ODD_BREAKS if len(b) > 1)


# columns that hold a source record's whole original text: long, and read only to show evidence. zstd
# writes them in about half the time of DuckDB's default string compression, and 4-5 times smaller
_ZSTD_COLUMNS = {"record"}


def ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    for loader in registry.loaders().values():
        cols = ", ".join(f"{quote_ident(c)} {t}" + (" USING COMPRESSION zstd" if c in _ZSTD_COLUMNS else "")
                         for c, t in loader.columns.items())
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {quote_ident(loader.table)} "
            f"(customer VARCHAR NOT NULL, load_id BIGINT NOT NULL, source_row BIGINT, {cols})"
        )


def detect(path: Path, head: bytes) -> Loader:
    if textio.looks_binary(head):
        raise InputError(path, 1, "binary data: expected a text or JSON export (CSV, JSON lines, log)")
    found = registry.claimants(head)
    if not found:
        raise InputError(
            path, 1, "no loader recognises this file's content; 'phishtrace sources' lists the formats, "
            "or force one with PATH:FORMAT"
        )
    if len(found) > 1:
        names = ", ".join(l.name for l in found)
        raise InputError(path, 1, f"several loaders claim this file ({names}); choose one with PATH:FORMAT")
    return found[0]


def frame(loader: Loader, rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema = {"source_row": pl.Int64}
    for col, typ in loader.columns.items():
        schema[col] = _POLARS_TYPES.get(typ.upper(), pl.Utf8)
    return pl.DataFrame(rows, schema=schema, orient="row" if rows and not isinstance(rows[0], dict) else None,
                        strict=False)


def parse_file(loader: Loader, src: SourceFile) -> Parsed:
    try:
        parsed = loader.parse(src)
    except InputError:
        raise
    except PhishtraceError as exc:
        raise InputError(src.path, None, str(exc)) from None
    except UnicodeDecodeError as exc:
        raise InputError(src.path, None, f"not valid text ({exc.reason})") from None
    total = len(parsed.rows) + len(parsed.rejects)
    if total == 0 and parsed.window is None:
        # (an export that states the window it covers may be empty: that is evidence nothing arrived)
        raise InputError(src.path, None, f"no records found: expected {loader.name} data ({loader.recognised_by})")
    if parsed.rejects and len(parsed.rejects) > MAX_REJECT_SHARE * total:
        first = parsed.rejects[0]
        more = f" (and {len(parsed.rejects) - 1} more bad rows)" if len(parsed.rejects) > 1 else ""
        raise InputError(src.path, first.line, f"{first.reason}{more}")
    return parsed


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    customer: str,
    spec: str,
    tz: str | None = None,
    year: int | None = None,
    force: bool = False,
    options: dict[str, Any] | None = None,
) -> IngestResult:
    if not customer or not customer.strip():
        raise PhishtraceError("a customer name is required (--customer)")
    path, forced = split_spec(spec)
    if not path.exists():
        raise InputError(path, None, "no such file")
    if path.is_dir():
        raise InputError(path, None, "is a directory: give the files inside it")
    with path.open("rb") as fh:
        head = fh.read(textio.HEAD_BYTES)
    if not head.strip():
        raise InputError(path, 1, "empty file: expected an export with at least one record")
    loader = registry.get(forced) if forced else detect(path, head)
    tzinfo = zone(tz)
    if loader.needs_tz and tzinfo is None:
        raise InputError(path, None, f"{loader.name} timestamps carry no time zone: give the appliance's zone with --tz")
    digest, facts = scan_file(path)
    previous = con.execute(
        "SELECT load_id FROM load_manifest WHERE customer = ? AND sha256 = ? AND format = ?",
        [customer, digest, loader.name],
    ).fetchall()
    if previous and not force:
        return IngestResult(str(path), loader.name, loader.hop, "unchanged", previous[0][0], 0, 0)

    src = SourceFile(path=path, head=head, tz=tzinfo, tz_name=tz, year=year, options=dict(options or {}))
    tz_note = tz or ("UTC (stated by the format)" if not loader.needs_tz else None)
    bulk = _bulk_plan(loader, src, facts)
    if bulk is not None:
        done = _load_bulk(con, loader, bulk, customer, path, digest, previous, tz_note)
        if done is not None:
            return done
    parsed = parse_file(loader, src)
    df = frame(loader, parsed.rows)
    window = parsed.window
    if window is None and loader.ts_column and loader.ts_column in df.columns and df.height:
        col = df.get_column(loader.ts_column)
        window = (col.min(), col.max())

    con.execute("BEGIN TRANSACTION")
    try:
        for (old_id,) in previous:
            _delete_load(con, old_id)
        load_id = scalar(con, "SELECT nextval('load_id_seq')")
        con.execute(
            "INSERT INTO load_manifest VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [load_id, customer, str(path), digest, loader.name, loader.hop, df.height, len(parsed.rejects),
             tz_note, window[0] if window else None, window[1] if window else None,
             datetime.now(timezone.utc)],
        )
        if df.height:
            staged = df.with_columns(pl.lit(customer).alias("customer"), pl.lit(load_id, pl.Int64).alias("load_id"))
            con.register("_phishtrace_incoming", staged)
            try:
                cols = ["customer", "load_id", "source_row", *loader.columns]
                select = ", ".join(
                    f"CAST({quote_ident(c)} AS {loader.columns[c]})" if c in loader.columns else quote_ident(c)
                    for c in cols
                )
                con.execute(
                    f"INSERT INTO {quote_ident(loader.table)} ({', '.join(quote_ident(c) for c in cols)}) "
                    f"SELECT {select} FROM _phishtrace_incoming"
                )
            finally:
                con.unregister("_phishtrace_incoming")
        if parsed.rejects:
            con.executemany(
                "INSERT INTO load_rejects VALUES (?, ?, ?, ?, ?)",
                [[load_id, customer, str(path), r.line, r.reason] for r in parsed.rejects],
            )
        con.execute("COMMIT")
    except Exception as exc:
        con.execute("ROLLBACK")
        if isinstance(exc, PhishtraceError):
            raise
        raise InputError(path, None, f"could not be loaded: {exc}") from None
    status = "replaced" if previous else "loaded"
    return IngestResult(str(path), loader.name, loader.hop, status, load_id, df.height, len(parsed.rejects))


def _bulk_plan(loader: Loader, src: SourceFile, facts: FileFacts) -> Bulk | None:
    """The loader's bulk query for this file, when it has one and the file is plain enough for it."""
    plan = getattr(loader, "bulk", None)
    if plan is None or facts.odd_breaks or (facts.nul and _bulk.csv_encoding(src.head) != "utf-16"):
        return None
    return plan(src, facts.lines)


def _load_bulk(con: duckdb.DuckDBPyConnection, loader: Loader, bulk: Bulk, customer: str, path: Path,
               digest: str, previous: list, tz_note: str | None) -> IngestResult | None:
    """Load the file with DuckDB; None (nothing changed) when the Python parser must read it: a row it
    would reject or read otherwise, a row count that does not match the file's lines, or a file DuckDB
    cannot read."""
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    try:
        try:
            with _progress(con, path, "reading"):
                # (a temporary table: spills to disk under the memory limit)
                staged = _bulk.stage(con, bulk)
            if staged is None or (bulk.lines_read is not None and staged != bulk.lines_read):
                return None
        except duckdb.OutOfMemoryException:
            _out_of_memory(con, path)
        except duckdb.Error:
            return None
        return _insert_staged(con, loader, bulk, customer, path, digest, previous, tz_note)
    finally:
        con.execute(f"DROP TABLE IF EXISTS temp.{quote_ident(_bulk.SOURCE_TABLE)}")


def _insert_staged(con: duckdb.DuckDBPyConnection, loader: Loader, bulk: Bulk, customer: str, path: Path,
                   digest: str, previous: list, tz_note: str | None) -> IngestResult | None:
    """Insert the staged file in one transaction (or, returning None, not at all)."""
    table = quote_ident(loader.table)
    cols = ["source_row", *loader.columns]
    # a bad row is stored with a negative source_row and found after the insert (one pass over the file)
    values = ", ".join(["CASE WHEN _bad OR _bad IS NULL THEN -1 ELSE source_row END",
                        *(quote_ident(c) for c in loader.columns)])
    con.execute("BEGIN TRANSACTION")
    try:
        for (old_id,) in previous:
            _delete_load(con, old_id)
        load_id = scalar(con, "SELECT nextval('load_id_seq')")
        with _progress(con, path, "loading"):
            inserted = scalar(
                con,
                f"INSERT INTO {table} (customer, load_id, {', '.join(quote_ident(c) for c in cols)}) "
                f"SELECT ?, ?, {values} FROM ({bulk.select})",
                [customer, load_id, *bulk.params])
        bad = scalar(con, f"SELECT count(*) FROM {table} WHERE load_id = ? AND source_row < 0", [load_id])
        if (bad or not inserted or (bulk.verify is not None and not bulk.verify(con, table, load_id))):
            con.execute("ROLLBACK")
            return None
        if bulk.window is not None:
            window = bulk.window(con, table, load_id)
            if window is None:
                con.execute("ROLLBACK")
                return None
        else:
            ts = quote_ident(loader.ts_column) if loader.ts_column else "NULL"
            window = first_row(con, f"SELECT min({ts}), max({ts}) FROM {table} WHERE load_id = ?", [load_id])
        con.execute(
            "INSERT INTO load_manifest VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [load_id, customer, str(path), digest, loader.name, loader.hop, inserted, 0,
             tz_note, window[0], window[1], datetime.now(timezone.utc)],
        )
        con.execute("COMMIT")
    except duckdb.OutOfMemoryException:
        con.execute("ROLLBACK")
        _out_of_memory(con, path)
    except duckdb.Error:
        con.execute("ROLLBACK")
        return None
    except BaseException:
        con.execute("ROLLBACK")
        raise
    status = "replaced" if previous else "loaded"
    return IngestResult(str(path), loader.name, loader.hop, status, load_id, inserted, 0)


def _out_of_memory(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """parse() would need far more memory than DuckDB: say so instead of falling back to it."""
    limit = scalar(con, "SELECT current_setting('memory_limit')")
    raise InputError(path, None, f"DuckDB ran out of memory loading this file (memory limit {limit}): raise "
                                 "PHISHTRACE_MEMORY_LIMIT or split the file") from None


@contextmanager
def _progress(con: duckdb.DuckDBPyConnection, path: Path, what: str):
    """A progress bar for the running query while a large file loads (only when stderr is a terminal)."""
    try:
        big = path.stat().st_size >= PROGRESS_BYTES
    except OSError:
        big = False
    if not big or not sys.stderr.isatty():
        yield
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    stop = threading.Event()
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task(f"{what} {path.name}", total=100)

        def poll() -> None:
            while not stop.wait(0.25):
                try:
                    done = con.query_progress()
                except Exception:  # the query may finish between two polls
                    continue
                if done is not None and done >= 0:
                    bar.update(task, completed=done)

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


def _delete_load(con: duckdb.DuckDBPyConnection, load_id: int) -> None:
    fmt = scalar(con, "SELECT format FROM load_manifest WHERE load_id = ?", [load_id])
    if fmt in registry.loaders():
        con.execute(f"DELETE FROM {quote_ident(registry.get(fmt).table)} WHERE load_id = ?", [load_id])
    con.execute("DELETE FROM load_rejects WHERE load_id = ?", [load_id])
    con.execute("DELETE FROM load_manifest WHERE load_id = ?", [load_id])
