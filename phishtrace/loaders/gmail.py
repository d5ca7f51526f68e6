"""Gmail logs in BigQuery (`gmail_bigquery_json`), formats.md §3.5.1 and §5.3.

Accepted shapes (content decides, never the file name):

* BigQuery REST rows: `{"row": {"f": [{"v": …}]}, "schema": {"fields": […]}}` one per line (the
  shape of the Elastic test fixture), or one `jobs.query` / `getQueryResults` response with
  `schema` and `rows`. Cells are decoded by position through the schema; all scalars are strings.
* Nested JSON records with `event_info` and `message_info` objects: `bq query --format=json` /
  `prettyjson` (a JSON array) or an export to GCS as newline-delimited JSON (one record a line;
  INT64 values written as strings, booleans as JSON booleans — both are accepted).

One raw row per `message_info.destination[]` entry (a record without destinations gives one row
without recipient). `event_info.timestamp_usec` is epoch microseconds, UTC. The raw table keeps the
vendor values as text; stg_gmail_bigquery_json maps them onto the action vocabulary:

| evidence | action | location | verdict_hop |
|---|---|---|---|
| mail_event_type 5 (quarantined) | quarantined | quarantine | server |
| mail_event_type 6 (released from quarantine) | released | | server |
| mail_event_type 4 (flagged as spam after delivery) | junked | junk | server |
| mail_event_type 12 (moved to Inbox) | delivered | inbox | mailbox |
| mail_event_type 13 (moved to Trash) | moved_by_rule | deleted | mailbox |
| mail_event_type 15 / 16 (link clicked) | clicked (url = post_delivery_info.interaction.link_url) | | mailbox |
| type 0 / 2 / none and success = false (rejected by policy) | rejected | none | server |
| type 0 / 2 / none and is_spam = true or destination service containing `spam` | junked | junk | server |
| type 0 / 2 / none and destination service containing `quarantine` | quarantined | quarantine | server |
| type 0 / 2 / none and destination service `gmail-ui` (the mailbox) | delivered | inbox | server |
| type 0 / 2 / none and destination service `smtp-outbound…` | relayed | external | server |
| anything else (2 received without a mailbox destination, 1, 3, 7–11, 14, 17–24) | received | | server |

UNCERTAIN (formats.md §3.5.1): the `action_type` table beyond value 1, the `spam_info.disposition`
values and the destination service names other than `gmail-ui` are not documented; they are kept
in raw_status / reason and only the rules above use them. That `gmail-ui` on a type 0 or 2 row means
"in the mailbox" follows the Elastic fixture (type 0, service gmail-ui, success true). The newer
"Workspace logs" activity layout (top-level `record_type`, `time_usec`) is refused with a message.

Bulk path (`bulk`): DuckDB reads files of one record a line, nested records or REST rows (each
written `{"row":…,"schema":…}` with the first line's schema, or `{"row":…}`); one-document files
and any line parse() would read otherwise (an unusual JSON value or type, a repeated key, JSON that
DuckDB reads but orjson refuses, a row that does not match its schema) go to parse().
"""

from __future__ import annotations

from typing import Any

import orjson

from phishtrace.errors import InputError
from phishtrace.loaders import _bulk, _gmail_bulk
from phishtrace.registry import Loader, Parsed, Reject, SourceFile
from phishtrace.timeparse import TimeParseError, from_epoch

RECORD_TYPES = _gmail_bulk.RECORD_TYPES


def decode_cell(value: Any, field: dict) -> Any:
    """One BigQuery REST cell (`v`) decoded through its schema field into plain Python values."""
    if field.get("mode") == "REPEATED":
        items = value or []
        return [decode_value(item.get("v") if isinstance(item, dict) else item, field) for item in items]
    return decode_value(value, field)


def decode_value(value: Any, field: dict) -> Any:
    if value is None:
        return None
    if str(field.get("type", "")).upper() in RECORD_TYPES:
        cells = value.get("f") if isinstance(value, dict) else None
        subfields = field.get("fields") or []
        if not isinstance(cells, list) or len(cells) != len(subfields):
            raise ValueError(f"record {field.get('name')!r} does not match its schema")
        return {sub["name"]: decode_cell(cell.get("v") if isinstance(cell, dict) else None, sub)
                for sub, cell in zip(subfields, cells)}
    return value


def decode_row(row: dict, schema: dict) -> dict:
    """A REST `{"f": […]}` row as a nested dict keyed by the schema's field names."""
    return decode_value(row, {"name": "row", "type": "RECORD", "fields": schema.get("fields") or []})


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _text(value: Any) -> str | None:
    """A scalar as the text BigQuery REST would write ('true', '250'); None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


class GmailBigQueryJson(Loader):
    name = "gmail_bigquery_json"
    hop = "server"
    produces = "mail_events"
    recognised_by = ("Gmail logs in BigQuery: JSON with event_info and message_info (REST f/v rows with "
                     "schema, bq --format=json, or NDJSON export)")
    columns = {
        "event_ts": "TIMESTAMPTZ",
        "timestamp_usec": "VARCHAR",
        "mail_event_type": "VARCHAR",
        "action_type": "VARCHAR",
        "success": "VARCHAR",
        "message_id": "VARCHAR",
        "subject": "VARCHAR",
        "source_address": "VARCHAR",
        "from_header_address": "VARCHAR",
        "source_service": "VARCHAR",
        "recipient": "VARCHAR",
        "destination_service": "VARCHAR",
        "rcpt_response": "VARCHAR",
        "is_spam": "VARCHAR",
        "spam_disposition": "VARCHAR",
        "spam_classification_reason": "VARCHAR",
        "smtp_reply_code": "VARCHAR",
        "description": "VARCHAR",
        "triggered_rules": "VARCHAR",
        "post_delivery_action_type": "VARCHAR",
        "link_url": "VARCHAR",
    }

    def sniff(self, head: bytes, text: str) -> bool:
        start = text.lstrip("\ufeff \t\r\n")[:1]
        return start in ("{", "[") and '"event_info"' in text and '"message_info"' in text

    def bulk(self, src: SourceFile, lines: int) -> _bulk.Bulk | None:
        """DuckDB reads newline-delimited records (phishtrace.loaders._gmail_bulk)."""
        return _gmail_bulk.plan(src, lines, self.columns)

    # -- reading ---------------------------------------------------------------------------------
    def parse(self, src: SourceFile) -> Parsed:
        text = src.text()
        rows: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        for number, record, problem in self._records(src, text):
            if problem:
                rejects.append(Reject(number, problem))
                continue
            try:
                rows.extend(self._rows(number, record))
            except (ValueError, TimeParseError) as exc:
                rejects.append(Reject(number, str(exc)))
        return Parsed(rows=rows, rejects=rejects)

    def _records(self, src: SourceFile, text: str):
        """(source_row, nested record, problem) for every record in the file."""
        lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
        if not lines:
            return
        first = lines[0][1].strip()
        ndjson = False
        if first.startswith("{"):
            try:
                orjson.loads(first)
                ndjson = True
            except orjson.JSONDecodeError:
                ndjson = False
        if ndjson:
            schema = None
            for n, line in lines:
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    yield n, None, f"not valid JSON ({exc}); expected one Gmail log record per line"
                    continue
                if isinstance(obj, dict) and isinstance(obj.get("schema"), dict):
                    schema = obj["schema"]
                yield from self._unwrap(src, n, obj, schema, row_numbers=False)
            return
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            line = getattr(exc, "lineno", None)
            raise InputError(src.path, line, f"not valid JSON ({exc}): expected Gmail logs in BigQuery "
                                             "(a JSON array, a BigQuery REST response, or one record per line)") from None
        if isinstance(doc, list):
            for i, obj in enumerate(doc, start=1):
                yield from self._unwrap(src, i, obj, None, row_numbers=False)
        else:
            yield from self._unwrap(src, 1, doc, doc.get("schema") if isinstance(doc, dict) else None,
                                    row_numbers=True)

    def _unwrap(self, src: SourceFile, n: int, obj: Any, schema: dict | None, row_numbers: bool):
        if not isinstance(obj, dict):
            yield n, None, "expected a JSON object (a Gmail log record)"
            return
        if "rows" in obj and "schema" in obj:  # a jobs.query / getQueryResults response
            if not isinstance(schema, dict):
                raise InputError(src.path, n, "BigQuery REST rows need the response's schema")
            for i, row in enumerate(obj.get("rows") or [], start=1):
                yield from self._rest_row(i if row_numbers else n, row, schema)
            return
        if "row" in obj:
            if not isinstance(schema, dict):
                raise InputError(src.path, n, "BigQuery REST row without a schema: export the response with "
                                              "its schema (fields) so the cells can be decoded")
            yield from self._rest_row(n, obj["row"], schema)
            return
        if "event_info" in obj or "message_info" in obj:
            yield n, obj, None
            return
        if "record_type" in obj or "time_usec" in obj:
            yield n, None, ("a Workspace logs activity record (top-level record_type/time_usec): export the "
                            "Gmail logs table (event_info, message_info) instead")
            return
        yield n, None, "expected a Gmail logs in BigQuery record with event_info and message_info"

    def _rest_row(self, n: int, row: Any, schema: dict):
        try:
            yield n, decode_row(row, schema), None
        except (ValueError, AttributeError, TypeError, KeyError) as exc:
            yield n, None, f"BigQuery REST row does not match its schema ({exc})"

    # -- mapping to raw rows ---------------------------------------------------------------------
    def _rows(self, n: int, rec: dict) -> list[dict[str, Any]]:
        usec = _get(rec, "event_info", "timestamp_usec")
        if usec in (None, ""):
            raise ValueError("no event_info.timestamp_usec: expected epoch microseconds")
        event_ts = from_epoch(usec, "us")
        msg = rec.get("message_info") or {}
        rules = [r.get("rule_name") for r in (msg.get("triggered_rule_info") or []) if isinstance(r, dict)]
        base = {
            "source_row": n,
            "event_ts": event_ts,
            "timestamp_usec": _text(usec),
            "mail_event_type": _text(_get(rec, "event_info", "mail_event_type")),
            "action_type": _text(msg.get("action_type")),
            "success": _text(_get(rec, "event_info", "success")),
            "message_id": _text(msg.get("rfc2822_message_id")),
            "subject": _text(msg.get("subject")),
            "source_address": _text(_get(msg, "source", "address")),
            "from_header_address": _text(_get(msg, "source", "from_header_address")),
            "source_service": _text(_get(msg, "source", "service")),
            "is_spam": _text(msg.get("is_spam")),
            "spam_disposition": _text(_get(msg, "spam_info", "disposition")),
            "spam_classification_reason": _text(_get(msg, "spam_info", "classification_reason")),
            "smtp_reply_code": _text(_get(msg, "connection_info", "smtp_reply_code")),
            "description": _text(msg.get("description")),
            "triggered_rules": "|".join(r for r in rules if r) or None,
            "post_delivery_action_type": _text(_get(msg, "post_delivery_info", "action_type")),
            "link_url": _text(_get(msg, "post_delivery_info", "interaction", "link_url")),
        }
        destinations = [d for d in (msg.get("destination") or []) if isinstance(d, dict)]
        if not destinations:
            return [{**base, "recipient": None, "destination_service": None, "rcpt_response": None}]
        return [
            {**base, "recipient": _text(d.get("address")), "destination_service": _text(d.get("service")),
             "rcpt_response": _text(d.get("rcpt_response"))}
            for d in destinations
        ]
