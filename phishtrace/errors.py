"""Errors that the CLI reports as one line, without a traceback."""

from __future__ import annotations

from pathlib import Path


class PhishtraceError(Exception):
    """A problem the user can act on; its message is shown as one line."""


class InputError(PhishtraceError):
    """Bad input: names the file, the line (1-based, when known) and what was expected."""

    def __init__(self, path: str | Path | None, line: int | None, message: str):
        self.path = str(path) if path is not None else None
        self.line = line
        self.message = message
        where = self.path or "<input>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")


def one_line(exc: BaseException) -> str:
    """An engine's message on one line: its lines joined, up to the source excerpt DuckDB appends
    ('LINE 1: ...' and a caret line)."""
    kept = []
    for line in str(exc).splitlines():
        if line.strip().startswith("LINE "):
            break
        if line.strip():
            kept.append(line.strip())
    return " ".join(kept) or type(exc).__name__
