"""Microsoft 365 / Exchange Online message trace, one row per recipient (formats.md §3.1).

Accepted shapes (the raw column `shape` records which one a row came from):

* ``csv``: ``Get-MessageTrace`` / ``Get-MessageTraceV2 | Export-Csv`` (§3.1.1). An optional first line
  ``#TYPE ...`` and the remoting columns ``PSComputerName, RunspaceId, PSShowComputerName`` are
  accepted; V2 may lack ``Organization, Index, StartDate, EndDate``. Dates are ISO 8601 (no zone =
  UTC, 7 fractional digits) or the en-US culture ``M/d/yyyy h:mm:ss tt``; the cmdlets write UTC.
* ``eac``: the EAC message trace "download"/"Export results" CSV (UTF-16 LE with BOM, or UTF-8).
  The exact export header was not found (§3.1.4); this layout follows the EAC UI column names
  ``Date, Sender, Recipient, Subject, Status`` listed in formats.md §3.1.4 and is UNCONFIRMED.
  Optional extra columns ``Message ID, Message trace ID, From IP, To IP, Size``. EAC shows times in
  the admin's time-zone setting, so the zone comes from the header (``Date (UTC)``,
  ``Date (UTC+01:00)``), else from the values (ISO with offset), else ``--tz`` is required.
* ``json``: Reporting Web Service records (§3.1.1): an OData page
  ``{"odata.metadata": ..., "value": [...]}``, a JSON array of records, or JSON lines of records
  and pages (an empty page yields nothing).
* ``graph``: Microsoft Graph ``exchangeMessageTrace`` (§3.1.2): a page
  ``{"@odata.context": ..., "value": [...], "@odata.nextLink": ...}``, an array, or JSON lines of
  camelCase records; ``id`` is the message trace id.

Header names and JSON keys are matched case-insensitively; CSV fields may be separated by commas,
tabs or semicolons. Every source value is kept as text; fields without a raw column go to
``extra`` as a JSON object. ``source_row`` is the 1-based line on which the row (CSV) or the
record's JSON value (JSON; records of a page written on one line share that line) begins.
``StartDate``/``EndDate``, when present, give the window the file covers.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import re
from datetime import datetime
from typing import Any

from phishtrace import textio
from phishtrace.errors import InputError
from phishtrace.loaders import _bulk
from phishtrace.registry import Loader, Parsed, Reject, SourceFile
from phishtrace.timeparse import UTC, TimeParseError, parse_any, zone

# source name (lower-case, single spaces) -> raw column
FIELDS = {
    "organization": "organization",
    "messageid": "message_id", "message id": "message_id",
    "received": "received", "receiveddatetime": "received", "date": "received",
    "senderaddress": "sender_address", "sender": "sender_address",
    "recipientaddress": "recipient_address", "recipient": "recipient_address",
    "subject": "subject",
    "status": "status",
    "toip": "to_ip", "to ip": "to_ip",
    "fromip": "from_ip", "from ip": "from_ip",
    "size": "size",
    "messagetraceid": "message_trace_id", "message trace id": "message_trace_id", "id": "message_trace_id",
    "startdate": "start_date",
    "enddate": "end_date",
    "index": "idx",
}
TEXT_COLUMNS = ["organization", "message_id", "received", "sender_address", "recipient_address", "subject",
                "status", "to_ip", "from_ip", "size", "message_trace_id", "start_date", "end_date", "idx"]

_EAC_DATE = re.compile(r"^date(?:\s*\((utc(?:\s*[+-]\d{1,2}(?::?\d{2})?)?)\))?$")
_ZONED = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|z|UTC|[+-]\d{2}(?::?\d{2})?)\s*$")
_ODATA = re.compile(r"\$metadata#(?:MessageTrace|admin/exchange/tracing/messageTraces)(?=[\"?]|$)")
_KEYS = [re.compile(r'"recipientAddress"\s*:', re.I), re.compile(r'"status"\s*:', re.I),
         re.compile(r'"(?:MessageTraceId|Received|receivedDateTime)"\s*:', re.I)]
_SPACE = re.compile(r"[ \t\r\n]*")
_DECODER = json.JSONDecoder()


def _norm(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").strip().lower().split())


# -- CSV ---------------------------------------------------------------------------------------

def csv_header(text: str) -> tuple[int, str, list[str]] | None:
    """(line number, delimiter, column names) of the header, after an optional '#TYPE' line."""
    lines = text.splitlines()
    n = 0
    while n < len(lines) and not lines[n].strip():
        n += 1
    if n < len(lines) and lines[n].lstrip("\ufeff").upper().startswith("#TYPE"):
        n += 1
    if n >= len(lines) or not lines[n].strip():
        return None
    best = None
    for delim in (",", "\t", ";"):
        names = next(csv.reader([lines[n]], delimiter=delim))
        if best is None or len(names) > len(best[2]):
            best = (n + 1, delim, [x.replace("\ufeff", "").strip() for x in names])
    return best


def csv_shape(names: list[str]) -> str | None:
    have = {_norm(n) for n in names}
    if {"recipientaddress", "status"} <= have and have & {"received", "messagetraceid"}:
        return "csv"
    if {"sender", "recipient", "status"} <= have and any(_EAC_DATE.match(n) for n in have):
        return "eac"
    return None


def _eac_zone(names: list[str], src: SourceFile, rows: list[list[str]], date_col: int, header_line: int):
    """The zone for naive EAC dates: from the header, else --tz; None when the values carry it."""
    m = _EAC_DATE.match(_norm(names[date_col]))
    if m and m.group(1):
        label = m.group(1).replace(" ", "")
        return UTC if label == "utc" else zone(label[3:])
    if src.tz is not None:
        return src.tz
    first = next((r[date_col].strip() for r in rows if len(r) > date_col and r[date_col].strip()), "")
    if first and not _ZONED.search(first):
        raise InputError(
            src.path, header_line,
            "the EAC message trace Date column carries no time zone (EAC shows the admin's time-zone "
            "setting): pass that zone with --tz, e.g. --tz Europe/Paris")
    return None


def parse_csv(src: SourceFile, text: str) -> tuple[list[tuple[int, str, dict]], list[Reject], Any]:
    """(line, shape, record) for every data row, unreadable rows, and the zone for dates without one."""
    head = csv_header(text)
    shape = csv_shape(head[2]) if head else None
    if not head or not shape:
        line = head[0] if head else 1
        got = ", ".join(head[2]) if head else "nothing"
        raise InputError(
            src.path, line,
            "expected a message trace CSV header with RecipientAddress, Received, Status (Export-Csv of "
            "Get-MessageTrace[V2]) or Date, Sender, Recipient, Subject, Status (EAC download); got " + got)
    header_line, delim, names = head
    body = io.StringIO(text, newline="")
    for _ in range(header_line):
        body.readline()
    reader = csv.reader(body, delimiter=delim)
    rows, starts, last = [], [], header_line
    try:
        for row in reader:
            starts.append(last + 1)
            last = header_line + reader.line_num
            rows.append(row)
    except csv.Error as exc:
        raise InputError(src.path, last + 1, f"unreadable CSV ({exc})") from None
    norm = [_norm(n) for n in names]
    date_col = next((i for i, n in enumerate(norm) if FIELDS.get(n) == "received" or _EAC_DATE.match(n)), None)
    if date_col is None:
        raise InputError(src.path, header_line, "the header has no Received column: expected the time of each row")
    naive = _eac_zone(names, src, rows, date_col, header_line) if shape == "eac" else UTC
    keys = ["received" if i == date_col else n for i, n in enumerate(names)]
    out, rejects = [], []
    for line, row in zip(starts, rows):
        if not any(v.strip() for v in row):
            continue
        if len(row) != len(keys):
            rejects.append(Reject(line, f"expected {len(keys)} fields as in the header, got {len(row)}"))
            continue
        out.append((line, shape, dict(zip(keys, row))))
    return out, rejects, naive


# -- JSON --------------------------------------------------------------------------------------

def _skip(text: str, i: int) -> int:
    return _SPACE.match(text, i).end()


def _array_items(text: str, i: int) -> list[tuple[int, Any]]:
    """(offset, value) of each item of the (already valid) JSON array starting at text[i]."""
    out = []
    i = _skip(text, i + 1)
    while i < len(text) and text[i] != "]":
        value, end = _DECODER.raw_decode(text, i)
        out.append((i, value))
        i = _skip(text, end)
        if text[i] == ",":
            i = _skip(text, i + 1)
    return out


def _member(text: str, i: int, key: str) -> int:
    """Offset of the value of `key` in the (already valid) JSON object starting at text[i]."""
    i = _skip(text, i + 1)
    while text[i] != "}":
        name, end = _DECODER.raw_decode(text, i)
        i = _skip(text, _skip(text, end) + 1)
        if name == key:
            return i
        _, end = _DECODER.raw_decode(text, i)
        i = _skip(text, end)
        if text[i] == ",":
            i = _skip(text, i + 1)
    raise KeyError(key)


def _records(text: str, off: int, value: Any) -> list[tuple[int, Any]]:
    """(offset, record) for a top-level JSON value: an array, a page with 'value', or one record."""
    if isinstance(value, list):
        return _array_items(text, off)
    if isinstance(value, dict) and isinstance(value.get("value"), list):
        return _array_items(text, _member(text, off, "value"))
    return [(off, value)]


def parse_json(src: SourceFile, text: str) -> tuple[list[tuple[int, str, Any]], list[Reject]]:
    """(line, shape, record) for every record of every JSON value in the text, and unreadable values."""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    line_of = lambda pos: bisect.bisect_right(starts, pos)  # noqa: E731
    out, rejects = [], []
    i = first = _skip(text, 0)
    while i < len(text):
        try:
            value, end = _DECODER.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            if i == first:
                raise InputError(src.path, line_of(exc.pos),
                                 f"invalid JSON ({exc.msg}): expected message trace records, an OData / "
                                 "Graph page or JSON lines of them") from None
            rejects.append(Reject(line_of(i), f"invalid or truncated JSON ({exc.msg} at line {line_of(exc.pos)})"))
            nl = text.find("\n", i)
            i = len(text) if nl < 0 else _skip(text, nl + 1)
            continue
        if not isinstance(value, (dict, list)):
            rejects.append(Reject(line_of(i), "expected a JSON object or array"))
        else:
            for pos, record in _records(text, i, value):
                out.append((line_of(pos), "json", record))
        i = _skip(text, end)
    return out, rejects


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    return json.dumps(value, ensure_ascii=False)


# -- the loader --------------------------------------------------------------------------------

class M365MessageTrace(Loader):
    name = "m365_message_trace"
    hop = "server"
    produces = "mail_events"
    recognised_by = ("Exchange Online message trace: Get-MessageTrace[V2] Export-Csv, EAC download CSV "
                     "(Date, Sender, Recipient, Status), Reporting Web Service / Graph messageTraces JSON")
    columns = {**{c: "VARCHAR" for c in TEXT_COLUMNS}, "shape": "VARCHAR", "extra": "VARCHAR",
               "event_ts": "TIMESTAMPTZ"}
    ts_column = "event_ts"

    def sniff(self, head: bytes, text: str) -> bool:
        body = text.lstrip("\ufeff \t\r\n")
        if not body.startswith(("{", "[")):
            head_ = csv_header(body)
            return bool(head_ and csv_shape(head_[2]))
        if _ODATA.search(body[:4096]):
            return True
        try:
            value, _ = _DECODER.raw_decode(body.split("\n", 1)[0])
        except json.JSONDecodeError:
            try:
                value = json.loads(body)
            except json.JSONDecodeError:  # a large pretty-printed page cut off by the head
                return all(k.search(body[:16384]) for k in _KEYS)
        if isinstance(value, dict) and isinstance(value.get("value"), list):
            value = value["value"]
        if isinstance(value, list):
            value = value[0] if value else None
        if not isinstance(value, dict):
            return False
        keys = {k.lower() for k in value}
        return {"recipientaddress", "status"} <= keys and bool(keys & {"messagetraceid", "received", "receiveddatetime"})

    def parse(self, src: SourceFile) -> Parsed:
        text = src.text()
        if text.lstrip(" \t\r\n").startswith(("{", "[")):
            items, rejects = parse_json(src, text)
            naive = UTC
        else:
            items, rejects, naive = parse_csv(src, text)
        rows, starts, ends = [], [], []
        for line, shape, record in items:
            row = self._row(line, shape, record, naive)
            if isinstance(row, Reject):
                rejects.append(row)
                continue
            start, end = row.pop("_start"), row.pop("_end")
            if start:
                starts.append(start)
            if end:
                ends.append(end)
            rows.append(row)
        window = None
        if starts or ends:
            times = [r["event_ts"] for r in rows]
            window = (min(starts or times), max(ends or times))
        return Parsed(rows=rows, rejects=rejects, window=window)

    def bulk(self, src: SourceFile, lines: int) -> _bulk.Bulk | None:
        """DuckDB reads a comma-separated UTF-8 Export-Csv (`csv` shape, header on line 1 or after the
        '#TYPE' line); every other shape, and any row parse() would treat otherwise, goes to parse()."""
        if not _bulk.is_utf8(src.head):
            return None
        text = textio.head_text(src.head)
        if text.lstrip("\ufeff \t\r\n").startswith(("{", "[")):
            return None
        head = csv_header(text)
        if not head or head[1] != "," or csv_shape(head[2]) != "csv":
            return None
        header_line, _, names = head
        first = text.lstrip("\ufeff").split("\n", 1)[0]
        if header_line != (2 if first.upper().startswith("#TYPE") else 1):
            return None
        norm = [_norm(n) for n in names]
        date_col = next((i for i, n in enumerate(norm) if FIELDS.get(n) == "received" or _EAC_DATE.match(n)), None)
        if date_col is None:
            return None
        keys = ["received" if i == date_col else n for i, n in enumerate(names)]
        targets = [FIELDS.get(_norm(k)) for k in keys]
        mapped = [t for t in targets if t]
        if len(set(keys)) != len(keys) or len(set(mapped)) != len(mapped):
            return None
        cols = [f"c{i}" for i in range(len(names))]
        source = {t: c for t, c in zip(targets, cols) if t}
        params: list = []
        extra_parts = []
        for key, target, col in zip(keys, targets, cols):
            if not target:
                extra_parts.append(f"CASE WHEN {col} IS NOT NULL AND {col} <> '' THEN ? || to_json({col}) END")
                params.append(json.dumps(key, ensure_ascii=False) + ": ")
        extra = (f"nullif('{{' || concat_ws(', ', {', '.join(extra_parts)}) || '}}', '{{}}')" if extra_parts
                 else "CAST(NULL AS VARCHAR)")
        text_cols = ", ".join(f"{_bulk.text(source[c])} AS {c}" if c in source else f"CAST(NULL AS VARCHAR) AS {c}"
                              for c in TEXT_COLUMNS)
        # another field count or a record over several lines, control characters in `extra`
        odd = ["NOT fields_ok"]
        odd += [f"regexp_matches(concat({', '.join(c for c, t in zip(cols, targets) if not t)}), '[\\x00-\\x1f]')"
                ] if any(not t for t in targets) else []
        select = f"""
            SELECT source_row, {', '.join(TEXT_COLUMNS)}, 'csv' AS shape, extra, event_ts,
                   recipient_address IS NULL OR received IS NULL OR event_ts IS NULL OR odd AS _bad
            FROM (SELECT *, {_bulk.any_utc('received')} AS event_ts
                  FROM (SELECT ? + n AS source_row, {text_cols}, {extra} AS extra, {' OR '.join(odd)} AS odd
                        FROM {_bulk.numbered()}))"""
        return _bulk.Bulk(reader=_bulk.csv_reader(len(names)), reader_params=[str(src.path), header_line],
                          select=select, params=[header_line, *params], lines_read=lines - header_line,
                          window=_trace_window, verify=_bulk.rfc4180_verify(src.path))

    @staticmethod
    def _row(line: int, shape: str, record: Any, naive) -> dict | Reject:
        if not isinstance(record, dict):
            return Reject(line, "expected a message trace record (a JSON object)")
        row: dict[str, Any] = {"source_row": line}
        extra = {}
        for key, value in record.items():
            col = FIELDS.get(_norm(key))
            if col and row.get(col) is None:
                row[col] = _text(value)
            elif value is not None and value != "":
                extra[key] = value
            if shape == "json" and _norm(key) == "receiveddatetime":
                shape = "graph"
        row["shape"] = shape
        row["extra"] = json.dumps(extra, ensure_ascii=False) if extra else None
        if not row.get("recipient_address"):
            return Reject(line, "no RecipientAddress / recipientAddress / Recipient value")
        if not row.get("received"):
            return Reject(line, "no Received / receivedDateTime / Date value")
        parsed: dict[str, datetime | None] = {}
        for col, label in (("received", "Received"), ("start_date", "StartDate"), ("end_date", "EndDate")):
            try:
                parsed[col] = parse_any(row.get(col), naive)
            except TimeParseError as exc:
                return Reject(line, f"bad {label} timestamp: {exc}")
        row["event_ts"] = parsed["received"]
        row["_start"], row["_end"] = parsed["start_date"], parsed["end_date"]
        return row


def _trace_window(con, table: str, load_id: int):
    """StartDate / EndDate of the loaded rows, else the first and last Received (as parse() gives); None
    when a StartDate / EndDate value is not a timestamp (parse() rejects that row)."""
    dates = ("SELECT count(*) FILTER (WHERE ts IS NULL), {agg}(ts) FROM (SELECT {ts} AS ts FROM "
             "(SELECT DISTINCT {col} AS d FROM {table} WHERE load_id = ? AND {col} IS NOT NULL))")
    start = con.execute(dates.format(agg="min", ts=_bulk.any_utc("d"), col="start_date", table=table),
                        [load_id]).fetchall()[0]
    end = con.execute(dates.format(agg="max", ts=_bulk.any_utc("d"), col="end_date", table=table),
                      [load_id]).fetchall()[0]
    if start[0] or end[0]:
        return None
    lo, hi = con.execute(f"SELECT min(event_ts), max(event_ts) FROM {table} WHERE load_id = ?", [load_id]).fetchall()[0]
    return (start[1] if start[1] is not None else lo), (end[1] if end[1] is not None else hi)
