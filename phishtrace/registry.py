"""Loader interface and discovery: every module in phishtrace.loaders contributes its Loader classes."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from phishtrace import textio
from phishtrace.errors import PhishtraceError

HOPS = ("platform", "filter", "server", "mailbox")
PRODUCES = ("messages", "learners", "mail_events")


@dataclass
class Reject:
    line: int | None
    reason: str


@dataclass
class Parsed:
    """What a loader read from one file: raw rows (dicts keyed by its columns plus 'source_row'),
    rows it could not read, and the time window the file covers (None: min/max of its ts_column)."""

    rows: list[dict[str, Any]]
    rejects: list[Reject] = field(default_factory=list)
    window: tuple[datetime | None, datetime | None] | None = None


@dataclass
class SourceFile:
    path: Path
    head: bytes
    tz: tzinfo | None = None
    tz_name: str | None = None
    year: int | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        return textio.read_text(self.path)

    def lines(self) -> Iterator[tuple[int, str]]:
        return textio.numbered_lines(self.path)


class Loader:
    """One input format. Subclasses set the class attributes and implement sniff() and parse()."""

    name: ClassVar[str] = ""
    hop: ClassVar[str] = ""
    produces: ClassVar[str] = "mail_events"
    recognised_by: ClassVar[str] = ""
    # raw table columns (besides customer, load_id, source_row): name -> DuckDB type
    columns: ClassVar[dict[str, str]] = {}
    # column holding each row's UTC time, for the default covered window
    ts_column: ClassVar[str | None] = "event_ts"
    # True when the format carries no zone and the user must give --tz
    needs_tz: ClassVar[bool] = False

    def sniff(self, head: bytes, text: str) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def parse(self, src: SourceFile) -> Parsed:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def table(self) -> str:
        return f"raw_{self.name}"


@cache
def loaders() -> dict[str, Loader]:
    """All loaders by format name, discovered from the phishtrace.loaders package."""
    from phishtrace import loaders as pkg

    found: dict[str, Loader] = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{pkg.__name__}.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, Loader) and obj is not Loader and obj.name:
                if obj.__module__ != module.__name__:
                    continue
                if obj.name in found:
                    raise PhishtraceError(f"two loaders are named {obj.name}")
                if obj.hop not in HOPS or obj.produces not in PRODUCES:
                    raise PhishtraceError(f"loader {obj.name}: bad hop {obj.hop!r} or produces {obj.produces!r}")
                found[obj.name] = obj()
    return dict(sorted(found.items()))


def get(name: str) -> Loader:
    try:
        return loaders()[name]
    except KeyError:
        raise PhishtraceError(f"unknown format {name!r}; 'phishtrace sources' lists them") from None


def claimants(head: bytes) -> list[Loader]:
    """Loaders whose sniff() claims a file that starts with these bytes."""
    text = textio.head_text(head)
    out = []
    for loader in loaders().values():
        try:
            if loader.sniff(head, text):
                out.append(loader)
        except Exception:  # a sniff must never break detection of the others
            continue
    return out
