"""Loading one file by the bulk path and by the Python parser, for the tests that compare the two."""

from __future__ import annotations

from pathlib import Path

from phishtrace import ingest, registry
from phishtrace.workspace import Workspace


def load(path: Path, fmt: str, monkeypatch, python: bool, options: dict | None = None) -> tuple:
    """((raw rows, manifest, rejects) or (error type, message), whether the bulk path was taken: True,
    False when it fell back to parse(), None when it was not tried) of one file in a fresh workspace."""
    taken: list = []
    real = ingest._load_bulk
    monkeypatch.setattr(ingest, "_load_bulk", lambda *a: taken.append(real(*a)) or taken[-1])
    if python:
        monkeypatch.setattr(ingest, "_bulk_plan", lambda *a: None)
    table = registry.get(fmt).table
    with Workspace(":memory:") as ws:
        try:
            ws.ingest("c", [f"{path}:{fmt}"], options=options)
        except Exception as exc:  # the same error either way
            return (type(exc).__name__, str(exc)), None
        got = (ws.sql(f"SELECT * EXCLUDE (load_id) FROM {table} ORDER BY ALL"),
               ws.sql("SELECT rows_loaded, rows_rejected, window_start, window_end FROM load_manifest"),
               ws.sql("SELECT line, reason FROM load_rejects ORDER BY line"))
    return got, (taken[-1] is not None if taken else None)


def same(a, b) -> bool:
    if isinstance(a[0], str) or isinstance(b[0], str):
        return a == b
    return all(x.equals(y) for x, y in zip(a, b))
