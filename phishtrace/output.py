"""Rendering DataFrames for the terminal, CSV and JSON; CSV cells that a spreadsheet would run as a
formula are neutralised."""

from __future__ import annotations

import io
import json
import sys
from typing import TextIO

import polars as pl

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str | None) -> str | None:
    """Prefix a cell that starts like a spreadsheet formula with a quote so it is read as text."""
    if value and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_for_csv(df: pl.DataFrame) -> pl.DataFrame:
    cols = []
    for name, dtype in df.schema.items():
        if dtype == pl.Utf8:
            cols.append(pl.col(name).map_elements(neutralise, return_dtype=pl.Utf8))
        else:
            cols.append(pl.col(name))
    return df.select(cols) if cols else df


def to_csv(df: pl.DataFrame) -> str:
    return safe_for_csv(df).write_csv(datetime_format="%Y-%m-%dT%H:%M:%S%.fZ")


def to_json(df: pl.DataFrame) -> str:
    rows = []
    for row in df.iter_rows(named=True):
        rows.append({k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()})
    return json.dumps(rows, indent=2, ensure_ascii=False)


def to_table(df: pl.DataFrame, title: str | None = None, max_rows: int = 200, out: TextIO | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out or sys.stdout, width=None if (out or sys.stdout).isatty() else 200)
    table = Table(title=title, show_lines=False, header_style="bold")
    for name in df.columns:
        table.add_column(name, overflow="fold")
    for row in df.head(max_rows).iter_rows():
        table.add_row(*["" if v is None else _fmt(v) for v in row])
    console.print(table)
    if df.height > max_rows:
        console.print(f"... {df.height - max_rows} more rows (use --format csv for all)")


def _fmt(value) -> str:
    if hasattr(value, "strftime"):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        return text + ("Z" if getattr(value, "tzinfo", None) else "")
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def emit(df: pl.DataFrame, fmt: str, title: str | None = None, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    if fmt == "csv":
        out.write(to_csv(df))
    elif fmt == "json":
        out.write(to_json(df) + "\n")
    else:
        to_table(df, title=title, out=out)


def capture_table(df: pl.DataFrame) -> str:
    buf = io.StringIO()
    to_table(df, out=buf)
    return buf.getvalue()
