"""GoPhish exports (formats.md §1.1): the Results CSV, the Events ("Raw Events") CSV and the API JSON.

* ``gophish_results_csv``: ``<campaign name> - Results.csv``, one row per recipient, every header of
  §1.1.2 (v0.7.0+ ``id,status,ip,latitude,longitude,send_date,reported,modified_date,email,…`` and the
  v0.6.0, v0.5.0 and ≤0.3 orders with ``email`` second).
* ``gophish_events_csv``: ``<campaign name> - Events.csv``, one row per timeline event, header
  ``campaign_id,email,time,message,details`` (v0.10.0+) or ``email,time,message,details``.
* ``gophish_api_json``: the JSON of ``GET /api/campaigns/:id/results`` (``{id,name,status,results,
  timeline}``), or a campaign object / list of campaigns from ``GET /api/campaigns/`` with the same keys
  (their ``launch_date``, ``completed_date``, ``template.subject`` and ``smtp.from_address`` are used
  when present).

The CSV files are written by PapaParse in the browser (§1.1.1): CRLF, quoting only where needed, and,
from v0.11.0, formula escaping: a string starting with ``= + - @`` is exported with a leading ``'``.
Every CSV cell that is ``'`` followed by one of those characters is read back without the ``'`` (a
value that itself began with ``'=`` cannot be told apart and loses its ``'``).

Campaign: the Results CSV carries no campaign name; it is the loader option ``campaign`` when given,
else the file name stem without `` - Results`` (the name GoPhish gives the download). The Events CSV
uses the same rule with `` - Events`` (its ``campaign_id`` is kept in the raw table), so both exports of
one campaign land in the same campaign; the API JSON uses the option, else the campaign ``name``.
GoPhish has no runs: run = campaign. It has no delivered/bounced states and exports no Message-ID;
``token`` is the recipient's ``rid`` (results ``id``, events ``details.payload.rid``).

Times are UTC RFC3339Nano with a fraction of varying length (a time with an offset is converted, the
Go zero time ``0001-01-01T00:00:00Z`` is read as empty). Rows are kept in file order; the staging views
order by time themselves (the API does not sort the timeline).

Submitted form values (``Submitted Data`` payloads) are credentials: the raw ``details`` keeps the
field names with the values replaced by ``[redacted]`` (``rid`` and ``__original_url`` are kept).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from phishtrace.errors import InputError
from phishtrace.loaders._json_records import read_documents
from phishtrace.registry import Loader, Parsed, Reject, SourceFile
from phishtrace.timeparse import TimeParseError, parse_iso

RESULT_STATUSES = (
    "Scheduled", "Sending", "Queued", "Retrying", "Error", "Email Sent", "Success",
    "Email Opened", "Clicked Link", "Submitted Data",
)
EVENT_MESSAGES = (
    "Campaign Created", "Email Sent", "Error Sending Email", "Email Opened", "Clicked Link",
    "Submitted Data", "Email Reported", "Proxied request",
)
RESULTS_HEADERS = {
    "v0.7+": "id,status,ip,latitude,longitude,send_date,reported,modified_date,email,first_name,last_name,position",
    "v0.6": "id,email,first_name,last_name,position,status,ip,latitude,longitude,send_date,reported",
    "v0.5": "id,email,first_name,last_name,position,status,ip,latitude,longitude,send_date",
    "v0.3": "id,email,first_name,last_name,position,status,ip,latitude,longitude",
}
EVENTS_HEADERS = {
    "v0.10+": "campaign_id,email,time,message,details",
    "v0.9": "email,time,message,details",
}
_FORMULA = ("=", "+", "-", "@")
_KEEP_PAYLOAD = ("rid", "__original_url")


def unescape(value: str) -> str:
    """Undo PapaParse escapeFormulae: "'=x" -> "=x" (only before = + - @)."""
    if len(value) > 1 and value[0] == "'" and value[1] in _FORMULA:
        return value[1:]
    return value


def go_time(value: Any) -> datetime | None:
    """A GoPhish time (RFC3339Nano, UTC) or None for empty / the Go zero time."""
    if value is None:
        return None
    text = str(value).strip()
    if not text or text.startswith("0001-01-01"):
        return None
    return parse_iso(text)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _address(value: Any) -> str | None:
    """The address of a From value such as 'IT <it@example.com>'."""
    text = _text(value)
    if text and "<" in text and ">" in text:
        text = text[text.rindex("<") + 1 : text.rindex(">")].strip() or None
    return text


def _bool_text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise ValueError(f"reported {value!r}: expected true or false")
    return text


def parse_details(raw: Any) -> dict[str, Any]:
    """rid, client address, user agent and error from an event's ``details`` JSON string, plus the
    details text with submitted form values redacted."""
    out: dict[str, Any] = {"details": None, "rid": None, "client_ip": None, "user_agent": None, "error": None}
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return out
    data = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(data, dict):
        raise ValueError(f"details {str(raw)[:60]!r}: expected a JSON object")
    payload = data.get("payload") if isinstance(data.get("payload"), dict) else None
    browser = data.get("browser") if isinstance(data.get("browser"), dict) else {}
    out["details"] = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)
    if payload:
        rid = payload.get("rid")
        rid = rid[0] if isinstance(rid, list) and rid else rid
        out["rid"] = _text(rid)
        if any(k not in _KEEP_PAYLOAD for k in payload):
            redacted = {k: (v if k in _KEEP_PAYLOAD else "[redacted]") for k, v in payload.items()}
            out["details"] = json.dumps({**data, "payload": redacted}, ensure_ascii=False)
    out["client_ip"] = _text(browser.get("address"))
    out["user_agent"] = _text(browser.get("user-agent"))
    out["error"] = _text(data.get("error"))
    return out


def campaign_from_name(src: SourceFile, suffix: str) -> str:
    """Loader option 'campaign', else the file name stem without ' - Results' / ' - Events'."""
    option = src.options.get("campaign")
    if option is not None and str(option).strip():
        return str(option).strip()
    stem = Path(src.path).stem
    if stem.lower().endswith(suffix.lower()):
        stem = stem[: -len(suffix)]
    return stem.strip() or Path(src.path).stem


def read_csv(src: SourceFile, headers: dict[str, str], what: str) -> tuple[str, list[str], list[tuple[int, list[str]]], list[Reject]]:
    """(header version, columns, [(line, unescaped cells)], rejects) of a PapaParse CSV export."""
    reader = csv.reader(io.StringIO(src.text(), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(src.path, 1, f"empty file: expected a {what}") from None
    line = ",".join(h.strip().lower() for h in header)
    version = next((v for v, h in headers.items() if h == line), None)
    if version is None:
        known = "; ".join(f"{v}: {h}" for v, h in headers.items())
        raise InputError(src.path, 1, f"header {','.join(header)[:120]!r} is not a {what} header: expected one of {known}")
    cols = headers[version].split(",")
    rows: list[tuple[int, list[str]]] = []
    rejects: list[Reject] = []
    end = reader.line_num
    try:
        for values in reader:
            start, end = end + 1, reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(cols):
                rejects.append(Reject(start, f"expected {len(cols)} fields ({headers[version]}), got {len(values)}"))
                continue
            rows.append((start, [unescape(v) for v in values]))
    except csv.Error as exc:
        raise InputError(src.path, reader.line_num, f"unreadable CSV ({exc}): expected a {what}") from None
    return version, cols, rows, rejects


def result_row(rec: dict[str, Any]) -> dict[str, Any]:
    """Raw columns of one result (CSV row or API object)."""
    status = _text(rec.get("status"))
    if status not in RESULT_STATUSES:
        raise ValueError(f"status {status!r}: expected a GoPhish result status ({', '.join(RESULT_STATUSES)})")
    email = _text(rec.get("email"))
    if email is None:
        raise ValueError("result without an email address")
    send_date = _text(rec.get("send_date"))
    modified_date = _text(rec.get("modified_date"))
    return {
        "rid": _text(rec.get("id")),
        "status": status,
        "ip": _text(rec.get("ip")),
        "latitude": _text(rec.get("latitude")),
        "longitude": _text(rec.get("longitude")),
        "send_date": send_date,
        "send_ts": go_time(send_date),
        "reported": _bool_text(rec.get("reported")),
        "modified_date": modified_date,
        "modified_ts": go_time(modified_date),
        "email": email,
        "first_name": _text(rec.get("first_name")),
        "last_name": _text(rec.get("last_name")),
        "position": _text(rec.get("position")),
    }


def event_row(rec: dict[str, Any]) -> dict[str, Any]:
    """Raw columns of one timeline event (CSV row or API object)."""
    message = _text(rec.get("message"))
    if message not in EVENT_MESSAGES:
        raise ValueError(f"message {message!r}: expected a GoPhish event ({', '.join(EVENT_MESSAGES)})")
    time = _text(rec.get("time"))
    event_ts = go_time(time)
    if event_ts is None:
        raise ValueError(f"event {message!r} without a time: expected an RFC 3339 UTC time")
    try:
        details = parse_details(rec.get("details"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"details of {message!r} are not valid JSON ({exc.msg})") from None
    return {"email": _text(rec.get("email")), "time": time, "event_ts": event_ts, "message": message, **details}


RESULT_COLUMNS = {
    "rid": "VARCHAR", "status": "VARCHAR", "ip": "VARCHAR", "latitude": "VARCHAR", "longitude": "VARCHAR",
    "send_date": "VARCHAR", "send_ts": "TIMESTAMPTZ", "reported": "VARCHAR", "modified_date": "VARCHAR",
    "modified_ts": "TIMESTAMPTZ", "email": "VARCHAR", "first_name": "VARCHAR", "last_name": "VARCHAR",
    "position": "VARCHAR",
}
EVENT_COLUMNS = {
    "email": "VARCHAR", "time": "VARCHAR", "event_ts": "TIMESTAMPTZ", "message": "VARCHAR", "details": "VARCHAR",
    "rid": "VARCHAR", "client_ip": "VARCHAR", "user_agent": "VARCHAR", "error": "VARCHAR",
}


def _first_line(text: str) -> str:
    return text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r").strip().lower()


class GophishResultsCsv(Loader):
    name = "gophish_results_csv"
    hop = "platform"
    produces = "messages"
    recognised_by = "CSV whose header is a GoPhish Results export (id,status,ip,…,email,… in any GoPhish version's order)"
    columns = {"campaign": "VARCHAR", "header_version": "VARCHAR", **RESULT_COLUMNS}
    ts_column = "send_ts"

    def sniff(self, head: bytes, text: str) -> bool:
        return _first_line(text) in RESULTS_HEADERS.values()

    def parse(self, src: SourceFile) -> Parsed:
        version, cols, records, rejects = read_csv(src, RESULTS_HEADERS, "GoPhish Results CSV")
        campaign = campaign_from_name(src, " - Results")
        rows = []
        for line, values in records:
            try:
                rows.append({"source_row": line, "campaign": campaign, "header_version": version,
                             **result_row(dict(zip(cols, values)))})
            except (TimeParseError, ValueError) as exc:
                rejects.append(Reject(line, str(exc)))
        return Parsed(rows=rows, rejects=rejects)


class GophishEventsCsv(Loader):
    name = "gophish_events_csv"
    hop = "platform"
    produces = "messages"
    recognised_by = "CSV whose header is a GoPhish Events export ([campaign_id,]email,time,message,details)"
    columns = {"campaign": "VARCHAR", "campaign_id": "VARCHAR", "header_version": "VARCHAR", **EVENT_COLUMNS}
    ts_column = "event_ts"

    def sniff(self, head: bytes, text: str) -> bool:
        return _first_line(text) in EVENTS_HEADERS.values()

    def parse(self, src: SourceFile) -> Parsed:
        version, cols, records, rejects = read_csv(src, EVENTS_HEADERS, "GoPhish Events CSV")
        campaign = campaign_from_name(src, " - Events")
        rows = []
        for line, values in records:
            rec = dict(zip(cols, values))
            try:
                rows.append({"source_row": line, "campaign": campaign, "campaign_id": _text(rec.get("campaign_id")),
                             "header_version": version, **event_row(rec)})
            except (TimeParseError, ValueError) as exc:
                rejects.append(Reject(line, str(exc)))
        return Parsed(rows=rows, rejects=rejects)


class GophishApiJson(Loader):
    name = "gophish_api_json"
    hop = "platform"
    produces = "messages"
    recognised_by = "JSON of GoPhish GET /api/campaigns/:id/results (or campaigns) with results[] and timeline[]"
    columns = {
        "record_type": "VARCHAR",
        "campaign": "VARCHAR",
        "campaign_id": "VARCHAR",
        "campaign_status": "VARCHAR",
        "launch_ts": "TIMESTAMPTZ",
        "completed_ts": "TIMESTAMPTZ",
        "sender": "VARCHAR",
        "subject": "VARCHAR",
        **RESULT_COLUMNS,
        **{k: v for k, v in EVENT_COLUMNS.items() if k not in RESULT_COLUMNS},
    }
    ts_column = "event_ts"

    def sniff(self, head: bytes, text: str) -> bool:
        t = text.lstrip("\ufeff \t\r\n")
        return t.startswith(("{", "[")) and '"results"' in t and '"timeline"' in t and (
            '"send_date"' in t or '"Campaign Created"' in t)

    def parse(self, src: SourceFile) -> Parsed:
        expected = "GoPhish GET /api/campaigns/:id/results JSON ({id, name, status, results[], timeline[]})"
        values, rejects, _single = read_documents(src, expected)
        rows: list[dict[str, Any]] = []
        counter = 0
        for pos, value in values:
            for camp in value if isinstance(value, list) else [value]:
                if not isinstance(camp, dict) or not ("results" in camp or "timeline" in camp):
                    raise InputError(src.path, pos, f"expected {expected}")
                try:
                    base = self._campaign(src, camp)
                except (TimeParseError, ValueError) as exc:
                    raise InputError(src.path, pos, f"campaign fields: {exc}") from None
                for kind, items, build in (("result", camp.get("results"), result_row),
                                           ("event", camp.get("timeline"), event_row)):
                    for item in items or []:
                        counter += 1
                        try:
                            if not isinstance(item, dict):
                                raise ValueError(f"expected a {kind} object, got {type(item).__name__}")
                            rows.append({"source_row": counter, "record_type": kind, **base, **build(item)})
                        except (TimeParseError, ValueError) as exc:
                            rejects.append(Reject(counter, f"{kind} {counter}: {exc}"))
        times = [t for r in rows for t in (r.get("send_ts"), r.get("event_ts")) if t is not None]
        return Parsed(rows=rows, rejects=rejects, window=(min(times), max(times)) if times else None)

    @staticmethod
    def _campaign(src: SourceFile, camp: dict[str, Any]) -> dict[str, Any]:
        option = src.options.get("campaign")
        name = _text(option) or _text(camp.get("name")) or _text(camp.get("id"))
        if name is None:
            raise ValueError("the campaign has neither a name nor an id; give one with the loader option 'campaign'")
        template = camp.get("template") if isinstance(camp.get("template"), dict) else {}
        smtp = camp.get("smtp") if isinstance(camp.get("smtp"), dict) else {}
        return {
            "campaign": name,
            "campaign_id": _text(camp.get("id")),
            "campaign_status": _text(camp.get("status")),
            "launch_ts": go_time(camp.get("launch_date")),
            "completed_ts": go_time(camp.get("completed_date")),
            "sender": _address(smtp.get("from_address")),
            "subject": _text(template.get("subject")),
        }
