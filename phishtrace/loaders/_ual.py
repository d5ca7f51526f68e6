"""Reading Office 365 audit records (formats.md §3.3): Management Activity API JSON and Purview CSV exports.

Accepted containers, whatever the record type:

* JSON lines, one record per line (a line may also hold a JSON array of records);
* one JSON array of records: the Management Activity API content blob, or ``ConvertTo-Json`` output;
* one JSON object (a single record);
* the audit search CSV export: ``CreationDate,UserIds,Operations,AuditData`` (classic Purview and
  ``Search-UnifiedAuditLog | Export-Csv``, optionally after a ``#TYPE`` line), or the newer Purview
  layout ``RecordId,CreationDate,RecordType,Operation,UserId,AuditData,...``. Only ``AuditData`` (the
  JSON record) is read; ``CreationDate`` follows the exporting admin's settings and is ignored.

A ``Search-UnifiedAuditLog`` object (``{"Operations": ..., "AuditData": "<json>"}``) is unwrapped to its
``AuditData`` record. Records of other operations (a general audit export) are skipped.
``source_row`` is the line number (JSON lines, CSV: the line the row starts on) or the record number
in a single JSON array.

``CreationTime`` / ``MessageTime`` carry no zone: they are UTC by Management API convention (formats.md
§3.3.1, UNCERTAIN there), so naive values are read as UTC and ``--tz`` is not used.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from phishtrace.loaders._csvutil import read_rows
from phishtrace.loaders._json_records import read_documents
from phishtrace.registry import Reject, SourceFile
from phishtrace.timeparse import UTC, TimeParseError, parse_iso

CSV_REQUIRED = ["CreationDate", "AuditData"]


def operation_pattern(operations: Iterable[str]) -> re.Pattern[str]:
    """Finds `"Operation":"<op>"` in JSON text, in a CSV cell (doubled quotes) or in an escaped
    AuditData string (backslash-quotes); also the wrapper's `"Operations":"<op>"`."""
    ops = "|".join(re.escape(op) for op in operations)
    q = r'(?:\\?"){1,2}'
    return re.compile(rf'{q}Operations?{q}\s*:\s*{q}(?:{ops}){q}')


def looks_like_audit(text: str, pattern: re.Pattern[str]) -> bool:
    """Sniff: JSON whose head names one of the operations, or an audit CSV export whose rows do."""
    body = text.lstrip("\ufeff \t\r\n")
    if body.startswith(("{", "[")):
        return bool(pattern.search(body))
    lines = body.splitlines()
    if lines and lines[0].upper().startswith("#TYPE"):
        lines = lines[1:]
    if not lines:
        return False
    header = lines[0].lower().replace('"', "").replace(" ", "").split(",")
    return "auditdata" in header and "creationdate" in header and bool(pattern.search(body))


def _unwrap(value: Any) -> Any:
    """A Search-UnifiedAuditLog object carries the record as a JSON string in AuditData."""
    if isinstance(value, dict) and "AuditData" in value and "Operation" not in value:
        inner = value["AuditData"]
        if isinstance(inner, str):
            return json.loads(inner)
        return inner
    return value


def read_audit_records(src: SourceFile, operations: Iterable[str], expected: str
                       ) -> tuple[list[tuple[int, dict[str, Any]]], list[Reject]]:
    """(source_row, record) for every record whose Operation is one of `operations` (case-insensitive)."""
    wanted = {op.lower() for op in operations}
    text = src.text()
    if text.lstrip("\ufeff \t\r\n").startswith(("{", "[")):
        values, rejects, single = read_documents(src, expected)
        items: list[tuple[int, Any]] = []
        for pos, value in values:
            if isinstance(value, list):
                items.extend((i if single else pos, v) for i, v in enumerate(value, start=1))
            else:
                items.append((pos, value))
    else:
        _, rows = read_rows(src.path, text, CSV_REQUIRED, skip_prefix="#TYPE",
                            expected_desc="an audit log export CSV with CreationDate, ..., AuditData columns")
        items, rejects = [], []
        for line, row in rows:
            if "__error__" in row:
                rejects.append(Reject(line, row["__error__"]))
            else:
                items.append((line, row.get("auditdata", "")))
    out: list[tuple[int, dict[str, Any]]] = []
    for pos, value in items:
        try:
            record = json.loads(value) if isinstance(value, str) else _unwrap(value)
        except json.JSONDecodeError as exc:
            rejects.append(Reject(pos, f"AuditData is not valid JSON ({exc.msg}): expected {expected}"))
            continue
        if not isinstance(record, dict) or not isinstance(record.get("Operation"), str):
            rejects.append(Reject(pos, f"not an Office 365 audit record (no Operation): expected {expected}"))
            continue
        if record["Operation"].strip().lower() in wanted:
            out.append((pos, record))
    return out, rejects


def audit_time(value: Any, label: str) -> Any:
    """A UAL timestamp (naive = UTC by convention); raises TimeParseError with the field name."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise TimeParseError(f"no {label} value")
    if not isinstance(value, str):
        raise TimeParseError(f"{label} is not a timestamp string: {value!r}")
    try:
        return parse_iso(value, naive_tz=UTC)
    except TimeParseError:
        raise TimeParseError(f"bad {label} {value!r}") from None


def name_values(value: Any) -> dict[str, str | None]:
    """A `[{Name, Value}]` list (or a JSON string of one) as {lower-case name: value text};
    raises ValueError when it is neither."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"string is not JSON ({exc.msg})") from None
    if not isinstance(value, list):
        raise ValueError("expected a list of {Name, Value}")
    out: dict[str, str] = {}
    for item in value:
        if not isinstance(item, dict) or "Name" not in item:
            continue
        v = item.get("Value")
        out.setdefault(str(item["Name"]).strip().lower(), v if isinstance(v, str) or v is None else json.dumps(v))
    return out


def text(value: Any) -> str | None:
    """A source value as text (JSON for lists/objects, 'true'/'false' for booleans); empty -> None."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    return json.dumps(value, ensure_ascii=False)
