"""The demo: ingest data/samples (one folder per customer) into a fresh workspace and summarise it."""

from __future__ import annotations

from pathlib import Path

import click
import polars as pl

from phishtrace import output
from phishtrace.errors import PhishtraceError


def customer_folders(samples: Path) -> list[Path]:
    folders = sorted(p for p in samples.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise PhishtraceError(f"{samples}: no customer folders (expected {samples}/<customer>/<files>)")
    return folders


def run_demo(samples: Path, db: str) -> None:
    from phishtrace.workspace import Workspace

    path = Path(db)
    if db != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in (path, Path(str(path) + ".wal")):
            if stale.exists():
                stale.unlink()
    with Workspace(db) as ws:
        for folder in customer_folders(samples):
            files = sorted(str(f) for f in folder.iterdir() if f.is_file() and not f.name.startswith("."))
            results = ws.ingest(folder.name, files)
            click.echo(f"{folder.name}: loaded {len(results)} files, "
                       f"{sum(r.rows for r in results)} rows ({', '.join(sorted({r.format for r in results}))})")
        for customer in ws.customers():
            outcomes = ws.outcomes(customer)
            summary = (outcomes.group_by(["outcome", "stuck_at"]).agg(pl.len().alias("recipients"))
                       .sort(["recipients", "outcome"], descending=[True, False]))
            output.emit(summary, "table", title=f"{customer}: outcomes (as of {ws.as_of(customer)})")
            funnel = ws.funnel(customer).select(["campaign", "run", "targeted", "sent", "passed_filter",
                                                 "accepted_by_server", "in_inbox", "human_interaction"])
            output.emit(funnel, "table", title=f"{customer}: funnel")
    click.echo(f"workspace: {db}  (try: phishtrace outcomes --db {db} --customer <name>)")
    from phishtrace.report import demo_reports

    demo_reports(db)
