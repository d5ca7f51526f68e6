"""Workspace: one DuckDB file, the loaders and the views, as a small Python API returning polars DataFrames."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from phishtrace import db, ingest, parquet, scanners, views
from phishtrace.errors import PhishtraceError, one_line

# session variables the views read (see docs/outcomes.md), with their types
SETTINGS = {
    "as_of": "TIMESTAMPTZ",
    "stall_minutes": "INTEGER",
    "held_hours": "INTEGER",
    "window_before_minutes": "INTEGER",
    "window_hours": "INTEGER",
    "scanner_seconds": "INTEGER",
    "burst_seconds": "INTEGER",
    "burst_recipients": "INTEGER",
    "count_opens": "BOOLEAN",
}


class Workspace:
    """Owns the connection. `Workspace(':memory:')` for tests; `read_only=True` for reports."""

    def __init__(self, db_path: str | None = None, read_only: bool = False):
        self.path = db.resolve_db_path(db_path)
        self.read_only = read_only
        self.con: duckdb.DuckDBPyConnection = db.connect(self.path, read_only=read_only)
        self._restore_settings()
        if read_only:
            self._check_built()
        else:
            self._init()

    # -- setup -------------------------------------------------------------------------------
    def _init(self) -> None:
        db.create_bookkeeping(self.con)
        ingest.ensure_raw_tables(self.con)
        if views.stored(self.con, "views") != views.fingerprint():
            self._load_reference()
            views.build(self.con)

    def _load_reference(self) -> None:
        """The shipped reference tables (phishtrace/data/<name>.csv, '#' lines are comments)."""
        for table, name, columns in (("ref_scanners", "scanners", ("kind", "pattern", "label")),
                                     ("ref_retention", "retention", ("format", "days", "how"))):
            self.con.execute(f"DELETE FROM {db.quote_ident(table)}")
            text = (resources.files("phishtrace") / "data" / f"{name}.csv").read_text(encoding="utf-8")
            rows = [[r[c] for c in columns]
                    for r in csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))]
            if rows:
                self.con.executemany(f"INSERT INTO {db.quote_ident(table)} VALUES (?, ?, ?)", rows)

    def _check_built(self) -> None:
        if views.stored(self.con, "views") != views.fingerprint():
            raise PhishtraceError(
                f"{self.path}: its views are missing or from another phishtrace version; "
                "open it once read-write (e.g. 'phishtrace sources --db ...' or any ingest) to rebuild them"
            )

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def configure(self, **settings: Any) -> None:
        """Set view parameters for this session (as_of, scanner_seconds, window_hours, ...). A changed
        matching window (window_hours, window_before_minutes) recomputes the materialised models and is
        kept by the workspace: later sessions start with it (None returns to the default)."""
        self._set(settings)
        if self._window_changed():
            views.refresh(self.con)

    @contextmanager
    def preview(self, **settings: Any) -> Iterator["Workspace"]:
        """configure() for the duration of the block only: a changed matching window recomputes the
        models inside a transaction that is rolled back when the block ends, so the workspace keeps its
        models and settings."""
        self._known(settings)
        before = {key: db.scalar(self.con, "SELECT getvariable(?)", [f"pt_{key}"]) for key in settings}
        changed = False
        try:
            self._set(settings)
            changed = self._window_changed()
            if changed:
                self.con.execute("BEGIN TRANSACTION")
                views.recompute(self.con)
            yield self
        finally:
            if changed:
                self.con.execute("ROLLBACK")
            self._set(before)

    @staticmethod
    def _known(settings: dict[str, Any]) -> None:
        for key in settings:
            if key not in SETTINGS:
                raise PhishtraceError(f"unknown setting {key!r}; known: {', '.join(SETTINGS)}")

    def _set(self, settings: dict[str, Any]) -> None:
        self._known(settings)
        for key, value in settings.items():
            name = f"pt_{key}"
            if value is None:
                self.con.execute(f"RESET VARIABLE {db.quote_ident(name)}")
            else:
                self.con.execute(f"SET VARIABLE {db.quote_ident(name)} = CAST(? AS {SETTINGS[key]})", [value])

    def _window_changed(self) -> bool:
        """Whether the session's matching window differs from the stored models' (read-write needed)."""
        if views.settings_key(self.con) == views.stored(self.con, "settings"):
            return False
        if self.read_only:
            raise PhishtraceError("changing the matching window needs the workspace opened read-write")
        return True

    def _restore_settings(self) -> None:
        """Start from the matching window the stored models were computed with, so that the views and
        the materialised models agree."""
        self._set({name.removeprefix("pt_"): value for name, value in views.stored_settings(self.con).items()})

    def refresh(self) -> None:
        """Recompute the materialised models (done automatically after every ingest)."""
        views.refresh(self.con)

    # -- loading -----------------------------------------------------------------------------
    def ingest(
        self,
        customer: str,
        paths: Iterable[str],
        tz: str | None = None,
        year: int | None = None,
        force: bool = False,
        senders: Iterable[str] = (),
        options: dict[str, Any] | None = None,
        on_file: Callable[[ingest.IngestResult], None] | None = None,
    ) -> list[ingest.IngestResult]:
        """Load files for a customer. Each file is one transaction; the first bad file stops the run
        (files loaded before it stay loaded) and raises InputError naming file and line."""
        results = []
        try:
            for spec in paths:
                result = ingest.ingest_file(self.con, customer, str(spec), tz=tz, year=year, force=force,
                                            options=options)
                results.append(result)
                if on_file:
                    on_file(result)
            for sender in senders:
                self.add_sender(customer, sender)
        finally:
            if any(r.status != "unchanged" for r in results) or senders:
                views.refresh(self.con)
        return results

    def export_parquet(self, folder: str | Path, customers: Iterable[str] | None = None) -> dict[str, int]:
        """Write the customers' loaded data (None: all) as hive-partitioned Parquet under `folder`
        (<table>/customer=<name>/data.parquet); returns rows written per table."""
        return parquet.export(self.con, Path(folder), None if customers is None else list(customers))

    def import_parquet(self, folder: str | Path) -> dict[str, int]:
        """Load a folder written by export_parquet() (its customers must be new here) and recompute
        the models, in one transaction; returns rows loaded per table."""
        if self.read_only:
            raise PhishtraceError("importing needs the workspace opened read-write")
        return parquet.import_folder(self.con, Path(folder))

    def add_scanner(self, customer: str, kind: str, pattern: str, label: str = "") -> str:
        """Treat interactions from this link scanner as automated for the customer (kind: ip_prefix,
        ip_cidr or user_agent); returns the pattern as stored."""
        return scanners.add(self.con, customer, kind, pattern, label)

    def remove_scanner(self, customer: str, pattern: str) -> int:
        return scanners.remove(self.con, customer, pattern)

    def scanners(self, customer: str | None = None) -> pl.DataFrame:
        return scanners.listing(self.con, customer)

    def add_sender(self, customer: str, sender: str) -> None:
        value = sender.strip().lower().strip("<>")
        if not value:
            raise PhishtraceError("an empty --sender was given")
        exists = db.scalar(
            self.con, "SELECT count(*) FROM customer_senders WHERE customer = ? AND sender = ?", [customer, value]
        )
        if not exists:
            self.con.execute("INSERT INTO customer_senders VALUES (?, ?)", [customer, value])

    def add_aliases(self, customer: str, pairs: Iterable[tuple[str, str]]) -> int:
        rows = [[customer, a.strip().lower(), p.strip().lower()] for a, p in pairs]
        self.con.execute("BEGIN TRANSACTION")
        self.con.execute("DELETE FROM recipient_aliases WHERE customer = ?", [customer])
        if rows:
            self.con.executemany("INSERT INTO recipient_aliases VALUES (?, ?, ?)", rows)
        self.con.execute("COMMIT")
        views.refresh(self.con)
        return len(rows)

    # -- queries -----------------------------------------------------------------------------
    def sql(self, query: str, params: list | tuple = ()) -> pl.DataFrame:
        try:
            return self.con.sql(query, params=list(params) or None).pl()
        except duckdb.Error as exc:
            raise PhishtraceError(f"SQL error: {one_line(exc)}") from None

    def _select(self, view: str, customer: str | None, campaign: str | None = None,
                order: str = "", extra: str = "", params: list | None = None) -> pl.DataFrame:
        where, args = [], []
        if customer is not None:
            where.append("customer = ?")
            args.append(customer)
        if campaign is not None:
            where.append("campaign = ?")
            args.append(campaign)
        if extra:
            where.append(extra)
            args.extend(params or [])
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return self.sql(f"SELECT * FROM {db.quote_ident(view)}{clause}{(' ORDER BY ' + order) if order else ''}", args)

    def customers(self) -> list[str]:
        return db.loaded_customers(self.con)

    def manifest(self, customer: str | None = None) -> pl.DataFrame:
        return self._select("load_manifest", customer, order="load_id")

    def outcomes(self, customer: str | None = None, campaign: str | None = None) -> pl.DataFrame:
        return self._select("fct_recipient_outcomes", customer, campaign,
                            order="customer, campaign, run, recipient")

    def funnel(self, customer: str | None = None, campaign: str | None = None) -> pl.DataFrame:
        return self._select("fct_campaign_funnel", customer, campaign, order="customer, campaign, run")

    def latency(self, customer: str | None = None, campaign: str | None = None) -> pl.DataFrame:
        return self._select("fct_hop_latency", customer, campaign, order="customer, campaign, run, recipient")

    def latency_summary(self, customer: str | None = None, campaign: str | None = None) -> pl.DataFrame:
        """Per run and transition: recipients, mean, median, p90, p99, min and max seconds."""
        return self._select("fct_latency_summary", customer, campaign, order="customer, campaign, run, transition_order")

    def coverage(self, customer: str | None = None) -> pl.DataFrame:
        return self._select("fct_coverage", customer, order="customer, hop, source_format")

    def interactions(self, customer: str | None = None, campaign: str | None = None) -> pl.DataFrame:
        return self._select("fct_interactions", customer, campaign, order="customer, campaign, run, recipient, event_ts")

    def unmatched(self, customer: str | None = None, campaign: str | None = None) -> pl.DataFrame:
        """Mail events that look like a campaign's (its sender or subject) but matched no recipient."""
        return self._select("fct_unmatched_events", customer, campaign, order="customer, campaign, event_ts, recipient")

    def alerts(self, customer: str | None = None, campaign: str | None = None) -> pl.DataFrame:
        return self._select("fct_campaign_alerts", customer, campaign, order="customer, campaign, run, alert")

    def trace(self, recipient: str, customer: str | None = None) -> pl.DataFrame:
        """Every matched and unmatched mail event and platform fact for one recipient, in time order."""
        return self._select("fct_recipient_timeline", customer, order="event_ts NULLS FIRST, hop_order, source_row",
                            extra="recipient = ?", params=[recipient.strip().lower().strip("<>")])

    def as_of(self, customer: str) -> datetime | None:
        return db.scalar(self.con, "SELECT as_of FROM int_customer_as_of WHERE customer = ?", [customer])
