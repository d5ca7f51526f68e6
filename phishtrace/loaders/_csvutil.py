"""Shared CSV reading for loaders: header matching by name, line numbers, clear errors."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from phishtrace.errors import InputError


def norm_header(name: str) -> str:
    return "".join(ch for ch in name.strip().lstrip("\ufeff").lower() if ch.isalnum())


def first_line(text: str) -> str:
    return text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""


def header_names(text: str, skip_prefix: str | None = None) -> list[str]:
    """Normalised names of the header row (after an optional first line starting with skip_prefix)."""
    lines = text.lstrip("\ufeff").splitlines()
    if skip_prefix and lines and lines[0].startswith(skip_prefix):
        lines = lines[1:]
    if not lines:
        return []
    try:
        row = next(csv.reader([lines[0]]))
    except (csv.Error, StopIteration):
        return []
    return [norm_header(c) for c in row]


def read_rows(path: Path, text: str, required: list[str], skip_prefix: str | None = None,
              expected_desc: str = "") -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """Parse CSV text. Returns the header (normalised names) and (line number, {normalised name: value}) rows.

    Raises InputError on a header lacking a required column. Line numbers are physical lines in the file, so
    a quoted field spanning lines still reports where its row starts.
    """
    body = text.lstrip("\ufeff")
    offset = 0
    if skip_prefix and body.startswith(skip_prefix):
        nl = body.find("\n")
        body = body[nl + 1:] if nl >= 0 else ""
        offset = 1
    reader = csv.reader(io.StringIO(body, newline=""))
    try:
        raw_header = next(reader)
    except StopIteration:
        raise InputError(path, 1 + offset, f"no header row: expected {expected_desc or ', '.join(required)}") from None
    except csv.Error as exc:
        raise InputError(path, 1 + offset, f"unreadable CSV header ({exc})") from None
    header = [norm_header(c) for c in raw_header]
    missing = [r for r in required if norm_header(r) not in header]
    if missing:
        raise InputError(path, 1 + offset,
                         f"header lacks {', '.join(missing)}: expected {expected_desc or ', '.join(required)}")

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        start = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise InputError(path, start + offset, f"unreadable CSV row ({exc})") from None
            line = start + offset
            start = reader.line_num + 1
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                yield line, {"__error__": f"expected {len(header)} fields as in the header, found {len(row)}"}
                continue
            yield line, dict(zip(header, row))

    return header, rows()
