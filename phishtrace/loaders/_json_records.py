"""Reading JSON exports that are either one document (object or array) or JSON lines."""

from __future__ import annotations

import json
from typing import Any

from phishtrace.errors import InputError
from phishtrace.registry import Reject, SourceFile


def read_documents(src: SourceFile, expected: str) -> tuple[list[tuple[int, Any]], list[Reject], bool]:
    """(position, parsed value) pairs, rejects, and whether the file was one JSON document.

    A file that parses as one JSON document gives one value (position 1). Otherwise every non-empty
    line must be a JSON value of its own (JSON lines; position = line number); a line that does not
    parse becomes a Reject. A multi-line document that does not parse raises InputError at the line
    where the JSON breaks. `expected` says what the file should contain, for messages.
    """
    text = src.text()
    if not text.strip():
        raise InputError(src.path, 1, f"empty file: expected {expected}")
    try:
        return [(1, json.loads(text))], [], True
    except json.JSONDecodeError as exc:
        doc_error = exc
    lines = text.splitlines()
    first = next((n for n, line in enumerate(lines, start=1) if line.strip()), 1)
    try:
        json.loads(lines[first - 1])
    except json.JSONDecodeError:
        # not JSON lines: one (pretty-printed) document that is broken
        raise InputError(
            src.path, doc_error.lineno, f"not valid JSON ({doc_error.msg}, column {doc_error.colno}): expected {expected}"
        ) from None
    values: list[tuple[int, Any]] = []
    rejects: list[Reject] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            values.append((n, json.loads(line)))
        except json.JSONDecodeError as exc:
            rejects.append(Reject(n, f"not valid JSON ({exc.msg}, column {exc.colno}): expected {expected}"))
    return values, rejects, False
