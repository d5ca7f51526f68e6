"""Exchange Online message trace detail events (formats.md §3.1.3, §3.1.2, §5.3).

Accepted shapes:

* `Get-MessageTraceDetail[V2] | Export-Csv`: columns Date, MessageId, MessageTraceId, Event, Action,
  Detail, Data, RecipientAddress, SenderAddress, Organization (any order, case-insensitive), with or
  without a `#TYPE` line and PowerShell remoting columns (PSComputerName, RunspaceId, ...), which are
  ignored; `,` or, with `Export-Csv -UseCulture`, `;` / tab separated. The same objects as JSON
  (`ConvertTo-Json`; `/Date(ms)/` dates are read too).
* Graph `getDetailsByRecipient`: `{"value": [{action, data, dateTime, description, event, id, messageId}]}`.
  The items carry no recipient: it is taken from a top-level `recipientAddress` (and `messageTraceId`,
  `senderAddress`) when the saved file has one, else recipient stays NULL and the events match by
  Message-ID only. The item `id` is the message trace id (it is the id of the request URL in the docs).
* Older Graph beta `messageTraces` with `recipients[].events[]` (`eventType`, `description`).
* JSON lines of any of the above.

Time: dates are UTC (the cmdlets and Graph return UTC, §3.1.1); a value without a zone (en-US
`M/d/yyyy h:mm:ss AM` from Export-Csv, or ISO without `Z`) is read as UTC and `--tz` is not applied.
Event mapping: sql/10_staging/stg_m365_trace_detail.sql. The sniffer only claims files with detail
events (Event + Detail columns, event/description keys, or eventType), never the plain message trace.
"""

from __future__ import annotations

import json
import re
from typing import Any

from phishtrace.errors import InputError
from phishtrace.loaders import _exchange_csv as xcsv
from phishtrace.registry import Loader, Parsed, Reject, SourceFile
from phishtrace.timeparse import UTC, TimeParseError, from_epoch, parse_any

COLUMNS = (
    "shape", "date_text", "message_id", "message_trace_id", "recipient_address", "sender_address", "event",
    "action", "detail", "data", "organization", "subject", "delivery_status", "event_ref", "from_ip", "to_ip",
)
# raw column <- accepted keys (lower-case, no separators), first present wins
KEYS = {
    "date_text": ("date", "datetime"),
    "event": ("event", "eventtype"),
    "action": ("action",),
    "detail": ("detail", "description"),
    "data": ("data",),
    "message_id": ("messageid",),
    "message_trace_id": ("messagetraceid",),
    "recipient_address": ("recipientaddress", "recipientemail"),
    "sender_address": ("senderaddress", "senderemail"),
    "organization": ("organization",),
    "from_ip": ("fromip",),
    "to_ip": ("toip",),
}
EXPECTED_CSV = (
    "a Get-MessageTraceDetail CSV header with Date and Event columns "
    "(Date, MessageId, MessageTraceId, Event, Action, Detail, Data, RecipientAddress, SenderAddress, Organization)"
)
_MS_DATE = re.compile(r"^/Date\((-?\d+)(?:[+-]\d{4})?\)/$")
_JSON_DETAIL = [re.compile(p, re.I) for p in (r'"event"\s*:', r'"(?:description|detail)"\s*:', r'"(?:dateTime|date)"\s*:')]
_JSON_BETA = [re.compile(p) for p in (r'"recipients"\s*:', r'"events"\s*:', r'"eventType"\s*:')]


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    text = str(value).strip()
    return text or None


def _lowered(obj: dict[str, Any]) -> dict[str, Any]:
    return {_key(k): v for k, v in obj.items()}


def _pick(obj: dict[str, Any], names: tuple[str, ...], lowered: dict[str, Any] | None = None) -> str | None:
    lowered = _lowered(obj) if lowered is None else lowered
    for name in names:
        if name in lowered and _text(lowered[name]) is not None:
            return _text(lowered[name])
    return None


def _time(value: str | None):
    if value is None:
        raise TimeParseError("no date")
    m = _MS_DATE.match(value)
    return from_epoch(m.group(1), "ms") if m else parse_any(value, naive_tz=UTC)


def _row(line: int, shape: str, obj: dict[str, Any], defaults: dict[str, str | None]) -> dict[str, Any] | Reject:
    row: dict[str, Any] = {c: None for c in COLUMNS}
    row.update({c: v for c, v in defaults.items() if v is not None})
    lowered = _lowered(obj)
    for col, names in KEYS.items():
        value = _pick(obj, names, lowered)
        if value is not None:
            row[col] = value
    row.update(source_row=line, shape=shape)
    try:
        row["event_ts"] = _time(row["date_text"])
    except TimeParseError as exc:
        return Reject(line, f"date: {exc} (expected ISO 8601 or M/d/yyyy h:mm:ss AM, UTC)")
    if row["event"] is None:
        return Reject(line, "no Event value")
    return row


def _csv(src: SourceFile, text: str) -> list[dict[str, Any] | Reject]:
    out: list[dict[str, Any] | Reject] = []
    keys: list[str] | None = None
    body = [l for l in text.splitlines()[:3] if l.strip() and not l.lstrip("\ufeff").upper().startswith("#TYPE")]
    delimiter = xcsv.delimiter_of(body[0]) if body else ","
    for line, fields in xcsv.records(src.path, text, delimiter):
        if keys is None:
            if fields[0].upper().startswith("#TYPE"):
                continue
            keys = [_key(f) for f in fields]
            if not {"date", "event"} <= set(keys):
                raise InputError(src.path, line, f"expected {EXPECTED_CSV}")
            continue
        if len(fields) != len(keys):
            raise InputError(src.path, line,
                             f"row has {len(fields)} fields but the header has {len(keys)}: truncated line or broken quoting")
        out.append(_row(line, "csv", dict(zip(keys, fields)), {}))
    if keys is None:
        raise InputError(src.path, 1, f"no header: expected {EXPECTED_CSV}")
    return out


class _NotAnObject(Exception):
    """A JSON record that is not an object; carries its record number."""

    def __init__(self, record: int):
        super().__init__(record)
        self.record = record


def _items(doc: Any, first: int) -> list[tuple[int, str, dict[str, Any], dict[str, str | None]]]:
    """(record number, shape, event object, defaults) for one JSON document."""
    defaults: dict[str, str | None] = {}
    if isinstance(doc, dict) and isinstance(doc.get("value"), list):
        defaults = {"recipient_address": _pick(doc, ("recipientaddress",)),
                    "message_trace_id": _pick(doc, ("messagetraceid",)),
                    "sender_address": _pick(doc, ("senderaddress",))}
        doc = doc["value"]
    records = doc if isinstance(doc, list) else [doc]
    out = []
    for obj in records:
        if not isinstance(obj, dict):
            raise _NotAnObject(first + len(out))
        recipients = obj.get("recipients")
        if isinstance(recipients, list):
            trace = defaults | {"message_trace_id": _pick(obj, ("messagetraceid", "id")),
                                "message_id": _pick(obj, ("messageid",)),
                                "sender_address": _pick(obj, ("senderaddress", "senderemail")),
                                "subject": _pick(obj, ("subject",))}
            for rcpt in recipients:
                if not isinstance(rcpt, dict):
                    continue
                per = trace | {"recipient_address": _pick(rcpt, ("recipientaddress", "recipientemail")),
                               "delivery_status": _pick(rcpt, ("deliverystatus", "status"))}
                for event in rcpt.get("events") or []:
                    if isinstance(event, dict):
                        ev = {k: v for k, v in event.items() if _key(k) != "id"}
                        ev_defaults = per | {"event_ref": _pick(event, ("id",))}
                        out.append((first + len(out), "graph_beta", ev, ev_defaults))
            continue
        item_defaults = dict(defaults)
        if _pick(obj, ("messagetraceid",)) is None and _pick(obj, ("id",)) is not None:
            item_defaults["message_trace_id"] = _pick(obj, ("id",))
        shape = "graph" if _pick(obj, ("datetime",)) is not None else "json"
        out.append((first + len(out), shape, obj, item_defaults))
    return out


def _json(src: SourceFile, text: str) -> list[dict[str, Any] | Reject]:
    try:
        docs = [(1, json.loads(text))]
        per_line = False
    except json.JSONDecodeError as whole:
        docs, per_line = [], True
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                docs.append((number, json.loads(line)))
            except json.JSONDecodeError:
                raise InputError(src.path, whole.lineno if not docs else number,
                                 f"not valid JSON ({whole.msg}): expected Graph getDetailsByRecipient JSON, "
                                 "message trace detail objects, or JSON lines of them") from None
    out: list[dict[str, Any] | Reject] = []
    for number, doc in docs:
        try:
            items = _items(doc, 1 if not per_line else number)
        except _NotAnObject as exc:
            raise InputError(src.path, number if per_line else exc.record,
                             "expected message trace detail objects (event, dateTime, description, ...)") from None
        for record, shape, obj, defaults in items:
            out.append(_row(number if per_line else record, shape, obj, defaults))
    return out


class M365TraceDetail(Loader):
    name = "m365_trace_detail"
    hop = "server"
    produces = "mail_events"
    recognised_by = (
        "message trace detail: Get-MessageTraceDetail CSV/JSON (Date, Event, Action, Detail columns), Graph "
        "getDetailsByRecipient JSON (event, description, dateTime) or beta recipients[].events[] (eventType)"
    )
    columns = {c: "VARCHAR" for c in COLUMNS} | {"event_ts": "TIMESTAMPTZ"}
    ts_column = "event_ts"

    def sniff(self, head: bytes, text: str) -> bool:
        body = text.lstrip("\ufeff \t\r\n")
        if body.startswith(("{", "[")):
            sample = body[:16384]
            return all(p.search(sample) for p in _JSON_DETAIL) or all(p.search(sample) for p in _JSON_BETA)
        lines = [l for l in body.splitlines()[:3] if l.strip()]
        if lines and lines[0].upper().startswith("#TYPE"):
            lines = lines[1:]
        if not lines:
            return False
        keys = {_key(f) for f in xcsv.first_record(lines[0], xcsv.delimiter_of(lines[0]))}
        return {"date", "event", "detail"} <= keys and bool(keys & {"messagetraceid", "messageid"})

    def parse(self, src: SourceFile) -> Parsed:
        text = xcsv.decoded_text(src.path, src.head)
        if text.lstrip("\ufeff \t\r\n").startswith(("{", "[")):
            results = _json(src, text.lstrip("\ufeff"))
        else:
            results = _csv(src, text)
        rows = [r for r in results if not isinstance(r, Reject)]
        rejects = [r for r in results if isinstance(r, Reject)]
        return Parsed(rows=rows, rejects=rejects)
