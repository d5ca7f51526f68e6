"""Microsoft Defender for Office 365 advanced hunting: `EmailEvents` and `EmailPostDeliveryEvents`.

Follows reference/formats.md §3.2. Accepted shapes, for both tables:

* streaming / storage-account envelopes (`{"category": "AdvancedHunting-<Table>", "properties": {...}}`),
  JSON lines (CRLF or LF) or one pretty-printed envelope; the fields are read from `properties` and
  the event time is always `properties.Timestamp`, never the envelope `time`;
* plain records with the documented column names (JSON lines, a JSON array, or a hunting-API answer
  `{"Schema"/"schema": [...], "Results"/"results": [...]}`);
* the portal's advanced-hunting CSV export (UNCERTAIN: not seen; a header row of the documented
  column names is expected, compared case-insensitively, `,` `;` or tab separated).

Column names are matched case-insensitively everywhere. `Timestamp` is UTC; a value without a zone
is read as UTC, ISO 8601 or en-US `M/d/yyyy h:mm:ss AM`.

A file of envelopes may mix tables (Elastic's fixture carries EmailAttachmentInfo, EmailUrlInfo,
UrlClickEvents too). Each loader keeps the records of its own table and silently skips the others
(they are neither rows nor rejects). Detection: `defender_email_events` claims every file whose
first 64 KiB show an EmailEvents record (so a file with both EmailEvents and EmailPostDeliveryEvents
is claimed by it); `defender_post_delivery` claims files that show post-delivery records and no
EmailEvents record. The post-delivery records of a mixed file are loaded by forcing the other
loader on the same file (`PATH:defender_post_delivery`); a file is keyed per format, so both loads
coexist. A record of the loader's table without `Timestamp` (Elastic's schema-only post-delivery
line) is a reject.

The vendor → action mapping is in sql/10_staging/stg_defender_*.sql (docs/architecture.md).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from typing import Any, ClassVar

import orjson

from phishtrace import textio
from phishtrace.errors import InputError
from phishtrace.loaders import _bulk
from phishtrace.registry import Loader, Parsed, Reject, SourceFile
from phishtrace.timeparse import UTC, TimeParseError, parse_any

_CATEGORY = re.compile(r'"category"\s*:\s*"AdvancedHunting-([A-Za-z]+)"', re.IGNORECASE)
EMAIL_EVENTS = "EmailEvents"
POST_DELIVERY = "EmailPostDeliveryEvents"


def _has_keys(text: str, keys: tuple[str, ...]) -> bool:
    return all(re.search(rf'"{k}"\s*:', text, re.IGNORECASE) for k in keys)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    return orjson.dumps(value).decode()


def _line_offset(text: str) -> int:
    """Line number (0-based) where the first non-blank character of the text is."""
    return text[: len(text) - len(text.lstrip())].count("\n")


class _DefenderTable(Loader):
    """Reading shared by both tables; subclasses name the table and its columns."""

    hop = "mailbox"
    produces = "mail_events"
    ts_column = "event_ts"
    table_name: ClassVar[str] = ""
    # columns a CSV header (and sniffing of plain records) must have
    required: ClassVar[tuple[str, ...]] = ()
    # documented source columns kept in the raw table (besides event_ts and record)
    source_columns: ClassVar[tuple[str, ...]] = ()

    # -- detection ----------------------------------------------------------------------------
    def _claims(self, tables: set[str]) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def _plain_table(self, text: str) -> str | None:
        """Which table plain (envelope-less) JSON records in the head belong to."""
        if _has_keys(text, ("Timestamp", "NetworkMessageId", "DeliveryAction", "DeliveryLocation")):
            return EMAIL_EVENTS
        if _has_keys(text, ("Timestamp", "NetworkMessageId", "ActionType", "ActionResult")):
            return POST_DELIVERY
        return None

    def sniff(self, head: bytes, text: str) -> bool:
        body = text.lstrip("\ufeff \t\r\n")
        if body.startswith(("{", "[")):
            tables = {m.group(1).lower() for m in _CATEGORY.finditer(body)}
            if tables:
                return self._claims(tables)
            plain = self._plain_table(body)
            return plain is not None and self._claims({plain.lower()})
        header = {h.lower() for h in _split_header(body.split("\n", 1)[0])}
        if not header >= {c.lower() for c in self.required}:
            return False
        return self._claims({EMAIL_EVENTS.lower() if "deliveryaction" in header else POST_DELIVERY.lower()})

    # -- parsing ------------------------------------------------------------------------------
    def parse(self, src: SourceFile) -> Parsed:
        text = src.text()
        body = text.lstrip("\ufeff \t\r\n")
        if not body:
            raise InputError(src.path, 1, f"empty file: expected {self.table_name} records")
        records = self._json_records(src, text) if body.startswith(("{", "[")) else self._csv_records(src, text)
        rows: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        for row_no, item, raw in records:
            if isinstance(item, Reject):
                rejects.append(item)
                continue
            fields = self._fields(item)
            if fields is None:
                continue  # another table's record
            if isinstance(fields, Reject):
                rejects.append(Reject(row_no, fields.reason))
                continue
            row = self._row(row_no, fields, raw)
            if isinstance(row, Reject):
                rejects.append(row)
            else:
                rows.append(row)
        return Parsed(rows=rows, rejects=rejects)

    def bulk(self, src: SourceFile, lines: int) -> _bulk.Bulk | None:
        """DuckDB reads JSON lines of streaming / storage envelopes (the common large export); plain
        records, CSV, one-document files and any line parse() would treat otherwise go to parse()."""
        if not _bulk.is_utf8(src.head) or lines < 2:
            return None
        first_two = textio.head_text(src.head).split("\n", 2)[:2]
        if len(first_two) < 2 or not all(line.strip().startswith("{") for line in first_two):
            return None
        good = self._good_key_sets(textio.head_text(src.head))
        if not good:
            return None
        names = ["category", "properties", *(f"properties.{c}" for c in self.source_columns)]
        paths = "[" + ", ".join(f"'$.{n}'" for n in names) + "]"
        # source column values as parse() gives them: text, None, or the JSON of other values
        values = [f"{_bulk.text(f'v[{i}]')} AS {quote(col)}" for i, col in enumerate(self.source_columns, start=3)]
        # (what the filter below reads is computed while the lines are staged: see json_lines_reader)
        reader = _bulk.json_lines_reader(
            category="json_extract_string(line, '$.category')",
            no_properties="coalesce(json_type(line, '$.properties'), 'NULL') = 'NULL'",
            json_ok=_bulk.json_ok(("$",)))
        select = f"""
            SELECT n AS source_row, {', '.join(quote(c) for c in self.source_columns)}, event_ts, line AS record,
                   event_ts IS NULL OR NOT json_ok OR NOT starts_with(line, '{{') OR NOT starts_with(v[2], '{{')
                   OR NOT list_contains(?, array_to_string(json_keys(v[2]), chr(31))) AS _bad
            FROM (SELECT *, {_bulk.any_utc(quote('Timestamp'))} AS event_ts
                  FROM (SELECT n, line, v, json_ok, {', '.join(values)}
                        FROM (SELECT n, line, json_ok, json_extract_string(line, {paths}) AS v
                              FROM {_bulk.numbered()}
                              WHERE {_bulk.text('line')} IS NOT NULL
                                AND (NOT json_ok OR NOT starts_with(line, '{{') OR category IS NULL OR no_properties
                                     OR lower(category) = ? OR lower(category) = ?))))"""
        table = self.table_name.lower()
        return _bulk.Bulk(reader=reader, reader_params=[str(src.path)], select=select,
                          params=[good, table, "advancedhunting-" + table])

    def _good_key_sets(self, head: str) -> list[str]:
        """The `properties` key lists (joined by U+001F) of the records in the head whose source column
        names are spelled as documented, each once: a record with any other key list goes to parse()
        (which matches names case-insensitively)."""
        exact = set(self.source_columns)
        lowered = {c.lower() for c in self.source_columns}
        good: set[str] = set()
        for line in head.splitlines()[:-1]:  # the last line may be cut off
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            props = record.get("properties") if isinstance(record, dict) else None
            if not isinstance(props, dict) or any("\x1f" in k for k in props):
                continue
            keys = list(props)
            if len({k.lower() for k in keys}) != len(keys) or any(k.lower() in lowered and k not in exact for k in keys):
                continue
            good.add("\x1f".join(keys))
        return sorted(good)

    def _fields(self, record: Any) -> dict[str, Any] | Reject | None:
        """The record's columns (lower-case names) when it belongs to this table, else None."""
        if not isinstance(record, dict):
            return Reject(None, "not a JSON object: expected one advanced-hunting record")
        category = record.get("category")
        if isinstance(category, str) and "properties" in record:
            if category.lower().removeprefix("advancedhunting-") != self.table_name.lower():
                return None
            props = record.get("properties")
            if not isinstance(props, dict):
                return Reject(None, f"{category} record without a 'properties' object")
            return {str(k).lower(): v for k, v in props.items()}
        fields = {str(k).lower(): v for k, v in record.items()}
        if "deliveryaction" in fields:
            table = EMAIL_EVENTS
        elif "actiontype" in fields and "actionresult" in fields:
            table = POST_DELIVERY
        else:
            return None
        return fields if table == self.table_name else None

    def _row(self, row_no: int, fields: dict[str, Any], raw: str) -> dict[str, Any] | Reject:
        stamp = _text(fields.get("timestamp"))
        if stamp is None:
            return Reject(row_no, f"{self.table_name} record without Timestamp (the event time; the envelope time is not used)")
        try:
            event_ts = parse_any(stamp, naive_tz=UTC)
        except TimeParseError as exc:
            return Reject(row_no, f"bad Timestamp: {exc} (expected ISO 8601 UTC such as 2024-10-28T14:18:40Z)")
        row: dict[str, Any] = {"source_row": row_no, "event_ts": event_ts, "record": raw}
        for col in self.source_columns:
            row[col] = _text(fields.get(col.lower()))
        return row

    # -- JSON ---------------------------------------------------------------------------------
    def _json_records(self, src: SourceFile, text: str) -> Iterator[tuple[int, Any, str]]:
        body = text.strip()
        offset = _line_offset(text)
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            first = body.split("\n", 1)[0].strip()
            if first in ("{", "[") or first.startswith("["):
                raise InputError(src.path, offset + exc.lineno,
                                 f"invalid JSON ({exc.msg}): expected {self.table_name} records") from None
            yield from self._json_lines(src)
            return
        if isinstance(doc, dict):
            results = next((doc[k] for k in ("Results", "results") if isinstance(doc.get(k), list)), None)
            if results is None:
                yield offset + 1, doc, orjson.dumps(doc).decode()
                return
            doc = results
        if not isinstance(doc, list):
            raise InputError(src.path, offset + 1, f"expected a JSON object or array of {self.table_name} records")
        for n, item in enumerate(doc, start=1):
            yield n, item, orjson.dumps(item).decode()

    def _json_lines(self, src: SourceFile) -> Iterator[tuple[int, Any, str]]:
        for line_no, line in src.lines():
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield line_no, Reject(line_no, f"not a JSON object ({exc.msg}): expected one record per line"), line
                continue
            if not isinstance(record, dict):
                yield line_no, Reject(line_no, "not a JSON object: expected one record per line"), line
                continue
            yield line_no, record, line

    # -- CSV ----------------------------------------------------------------------------------
    def _csv_records(self, src: SourceFile, text: str) -> Iterator[tuple[int, Any, str]]:
        lines = text.splitlines(keepends=True)
        first = next((i for i, line in enumerate(lines) if line.strip()), 0)
        delimiter = _delimiter(lines[first])
        reader = csv.reader(lines[first:], delimiter=delimiter)
        header = [h.strip().lstrip("\ufeff").lower() for h in next(reader)]
        missing = [c for c in self.required if c.lower() not in header]
        if missing:
            raise InputError(
                src.path, first + 1,
                f"expected a {self.table_name} CSV header with {', '.join(self.required)}; "
                f"missing {', '.join(missing)}",
            )
        last = reader.line_num
        for values in reader:
            row_no = first + last + 1
            last = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                yield row_no, Reject(row_no, f"{len(values)} fields where the header has {len(header)}"), ""
                continue
            record = dict(zip(header, values))
            yield row_no, record, orjson.dumps(record).decode()


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _split_header(line: str) -> list[str]:
    try:
        return [h.strip().strip('"') for h in next(csv.reader([line], delimiter=_delimiter(line)))]
    except (csv.Error, StopIteration):
        return []


def _delimiter(line: str) -> str:
    return max((",", ";", "\t"), key=line.count)


class DefenderEmailEvents(_DefenderTable):
    name = "defender_email_events"
    table_name = EMAIL_EVENTS
    recognised_by = (
        "Defender advanced-hunting EmailEvents: streaming/storage envelopes (category "
        "AdvancedHunting-EmailEvents, also in files mixing tables), plain JSON records or a CSV export "
        "with Timestamp, NetworkMessageId, RecipientEmailAddress, DeliveryAction, DeliveryLocation"
    )
    required = ("Timestamp", "NetworkMessageId", "RecipientEmailAddress", "DeliveryAction", "DeliveryLocation")
    source_columns = (
        "Timestamp", "NetworkMessageId", "InternetMessageId", "SenderMailFromAddress", "SenderFromAddress",
        "RecipientEmailAddress", "Subject", "EmailDirection", "DeliveryAction", "DeliveryLocation",
        "LatestDeliveryLocation", "LatestDeliveryAction", "EmailAction", "EmailActionPolicy",
        "OrgLevelAction", "OrgLevelPolicy", "UserLevelAction", "UserLevelPolicy", "ThreatTypes",
        "DetectionMethods", "ReportId",
    )
    columns = {**{c: "VARCHAR" for c in source_columns}, "event_ts": "TIMESTAMPTZ", "record": "JSON"}

    def _claims(self, tables: set[str]) -> bool:
        return EMAIL_EVENTS.lower() in tables


class DefenderPostDelivery(_DefenderTable):
    name = "defender_post_delivery"
    table_name = POST_DELIVERY
    recognised_by = (
        "Defender advanced-hunting EmailPostDeliveryEvents (ZAP, remediation, redelivery): envelopes of "
        "category AdvancedHunting-EmailPostDeliveryEvents with no EmailEvents records, plain JSON records "
        "or a CSV export with Timestamp, NetworkMessageId, RecipientEmailAddress, ActionType, ActionResult"
    )
    required = ("Timestamp", "NetworkMessageId", "RecipientEmailAddress", "ActionType", "ActionResult")
    source_columns = (
        "Timestamp", "NetworkMessageId", "InternetMessageId", "Action", "ActionType", "ActionTrigger",
        "ActionResult", "RecipientEmailAddress", "DeliveryLocation", "ThreatTypes", "DetectionMethods",
        "ReportId", "SenderFromAddress",
    )
    columns = {**{c: "VARCHAR" for c in source_columns}, "event_ts": "TIMESTAMPTZ", "record": "JSON"}

    def _claims(self, tables: set[str]) -> bool:
        return POST_DELIVERY.lower() in tables and EMAIL_EVENTS.lower() not in tables
