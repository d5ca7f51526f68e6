"""Proofpoint Protection Server / PoD Smart Search results (formats.md §2.1.3, §5.2).

Two shapes with the same field names (``Date, Final_Action, Final_Rule, GUID, QID, Message_ID, Sender,
Recipients, Quarantine_Folder, Quarantine_Rule, Sendmail_Stat, Sendmail_To_Stat, …``):

* JSON: the PPS REST output, either as the Cortex XSOAR context ``{"Proofpoint": {"SmartSearch": [...]}}``
  (demisto/content ProofpointProtectionServerV2 README "Context Example"), as the raw REST response
  ``{"result": [...]}`` (same integration's test data), as a bare array, or as JSON lines of records.
* CSV from the Smart Search UI export. No public sample exists, so its header is UNCERTAIN: this loader
  expects the REST field names as column names, matched case-insensitively with spaces or underscores
  (``Final_Action`` = ``Final Action``); ``Date``, ``Final_Action``, ``Recipients`` and one of
  ``GUID``/``QID``/``Message_ID`` are required.

``Date`` is local time with a bracketed offset, ``2020-05-20 14:13:02 [UTC-0600]``, converted to UTC; an
ISO 8601 time with an offset is accepted too, and a time without any zone needs ``--tz``.
``Recipients`` may list several addresses (split on ``,`` ``;`` or spaces): one row per recipient.

Mapping (staging view), following the final disposition actions documented in §2.1.3 and the PoD
disposition rules of docs/architecture.md: ``reject`` → rejected; ``discard`` with a quarantine folder
whose rule is not ``audit`` → quarantined; other ``discard`` → dropped; ``retry`` → deferred;
``accept``/``continue``/``redirect`` → passed. ``Final_Action`` falls back to ``Disposition_Action`` when
empty. The sendmail columns refine a passed message (their values are UNCERTAIN, no public sample):
``Sendmail_Errorcode`` 5.x.x or a 5xx/"User unknown" ``Sendmail_To_Stat``/``Sendmail_Stat`` → bounced by
the next hop (verdict_hop server); 4.x.x or ``Deferred`` → deferred.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from typing import Any

from phishtrace import textio
from phishtrace.errors import InputError
from phishtrace.loaders._json_records import read_documents
from phishtrace.registry import Loader, Parsed, Reject, SourceFile
from phishtrace.timeparse import UTC, TimeParseError, parse_iso

ACTIONS = ("accept", "continue", "discard", "redirect", "reject", "retry")
# raw column -> Smart Search field name
FIELDS = {
    "date": "Date",
    "final_action": "Final_Action",
    "final_rule": "Final_Rule",
    "disposition_action": "Disposition_Action",
    "quarantine_folder": "Quarantine_Folder",
    "quarantine_rule": "Quarantine_Rule",
    "guid": "GUID",
    "qid": "QID",
    "sid": "SID",
    "message_id": "Message_ID",
    "sender": "Sender",
    "sender_ip": "Sender_IP_Address",
    "recipients": "Recipients",
    "subject": "Subject",
    "sendmail_action": "Sendmail_Action",
    "sendmail_errorcode": "Sendmail_Errorcode",
    "sendmail_stat": "Sendmail_Stat",
    "sendmail_to": "Sendmail_To",
    "sendmail_to_stat": "Sendmail_To_Stat",
    "policy_routes": "Policy_Routes",
    "module_id": "Module_ID",
    "rule_id": "Rule_ID",
    "spam_score": "Spam_Score",
    "virus_names": "Virus_Names",
    "agent": "Agent",
}
REQUIRED = ("Date", "Final_Action", "Recipients")
IDS = ("GUID", "QID", "Message_ID")
_DATE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*\[\s*(?:UTC|GMT)\s*([+-]\d{2}:?\d{2})?\s*\]$"
)
_SPLIT = re.compile(r"[,;\s]+")
EXPECTED = "Proofpoint Smart Search results (JSON with Final_Action/GUID/QID records, or CSV with those columns)"


def _key(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lstrip("\ufeff")).lower()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    text = str(value).strip()
    return text or None


def parse_date(value: str, tz) -> datetime:
    """'2020-05-20 14:13:02 [UTC-0600]' (local time, bracketed offset) or ISO 8601, to UTC."""
    m = _DATE.match(value.strip())
    if m:
        return parse_iso(f"{m.group(1)}T{m.group(2)}{m.group(3) or 'Z'}")
    return parse_iso(value, naive_tz=tz)


class ProofpointSmartSearch(Loader):
    name = "proofpoint_smart_search"
    hop = "filter"
    produces = "mail_events"
    recognised_by = "Smart Search records: JSON or CSV with Final_Action, Date and GUID/QID fields"
    columns = {
        **{col: "VARCHAR" for col in FIELDS},
        "recipient": "VARCHAR",
        "event_ts": "TIMESTAMPTZ",
        "record": "JSON",
    }
    ts_column = "event_ts"

    def sniff(self, head: bytes, text: str) -> bool:
        t = text.lstrip("\ufeff \t\r\n")
        if t.startswith(("{", "[")):
            return '"Final_Action"' in t and ('"GUID"' in t or '"QID"' in t)
        first = t.split("\n", 1)[0]
        if "," not in first:
            return False
        cols = {_key(c.strip('"')) for c in first.split(",")}
        return {"date", "final_action"} <= cols and bool({"guid", "qid"} & cols)

    def parse(self, src: SourceFile) -> Parsed:
        t = textio.head_text(src.head).lstrip("\ufeff \t\r\n")
        if t.startswith(("{", "[")):
            records, rejects = self._json_records(src)
        else:
            records, rejects = self._csv_records(src)
        rows: list[dict[str, Any]] = []
        for pos, rec in records:
            try:
                rows.extend(self._rows(src, pos, rec))
            except (TimeParseError, ValueError) as exc:
                rejects.append(Reject(pos, str(exc)))
        return Parsed(rows=rows, rejects=rejects)

    def _json_records(self, src: SourceFile) -> tuple[list[tuple[int, dict]], list[Reject]]:
        values, rejects, single_doc = read_documents(src, EXPECTED)
        out: list[tuple[int, dict]] = []
        counter = 0
        for pos, value in values:
            if isinstance(value, dict) and isinstance(value.get("Proofpoint"), dict):
                value = value["Proofpoint"].get("SmartSearch", [])
            elif isinstance(value, dict) and "result" in value:
                value = value["result"]
            for item in value if isinstance(value, list) else [value]:
                counter += 1
                where = counter if single_doc else pos
                if not isinstance(item, dict) or "Final_Action" not in item:
                    rejects.append(Reject(where, "expected a Smart Search record (a JSON object with Final_Action)"))
                    continue
                out.append((where, item))
        return out, rejects

    def _csv_records(self, src: SourceFile) -> tuple[list[tuple[int, dict]], list[Reject]]:
        reader = csv.reader(io.StringIO(src.text(), newline=""))
        try:
            header = next(reader)
        except StopIteration:
            raise InputError(src.path, 1, f"empty file: expected {EXPECTED}") from None
        names = {_key(f): f for f in (*FIELDS.values(), "module_rules")}
        cols = [names.get(_key(h), h.strip()) for h in header]
        missing = [f for f in REQUIRED if f not in cols]
        if missing or not set(IDS) & set(cols):
            need = ", ".join(missing) if missing else "one of " + "/".join(IDS)
            raise InputError(src.path, 1, f"Smart Search CSV header lacks {need}: expected the Smart Search field names "
                                          f"({', '.join(REQUIRED)}, GUID/QID/Message_ID, …)")
        out: list[tuple[int, dict]] = []
        rejects: list[Reject] = []
        end = reader.line_num
        for values in reader:
            start, end = end + 1, reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(cols):
                rejects.append(Reject(start, f"expected {len(cols)} fields as in the header, got {len(values)}"))
                continue
            out.append((start, dict(zip(cols, values))))
        return out, rejects

    def _rows(self, src: SourceFile, pos: int, rec: dict) -> list[dict[str, Any]]:
        row = {col: _text(rec.get(field)) for col, field in FIELDS.items()}
        action = (row["final_action"] or row["disposition_action"] or "").lower()
        if action not in ACTIONS:
            what = f"Final_Action {row['final_action']!r}" if row["final_action"] else "no Final_Action"
            raise ValueError(f"{what}: expected one of {', '.join(ACTIONS)}")
        if row["date"] is None:
            raise ValueError("no Date: expected a time like '2020-05-20 14:13:02 [UTC-0600]'")
        try:
            ts = parse_date(row["date"], src.tz)
        except TimeParseError as exc:
            if "no time zone" in str(exc):
                raise InputError(src.path, pos, f"Date {row['date']!r} carries no zone: give the zone with --tz") from None
            raise ValueError(f"Date {row['date']!r}: expected a time like '2020-05-20 14:13:02 [UTC-0600]'") from None
        record = json.dumps(rec, ensure_ascii=False)
        recipients = [r for r in _SPLIT.split(row["recipients"] or "") if r] or [None]
        return [{"source_row": pos, **row, "recipient": r, "event_ts": ts.astimezone(UTC), "record": record}
                for r in recipients]
