"""Proofpoint TAP SIEM API records (formats.md §2.1.4): messages delivered/blocked, clicks permitted/blocked.

Input: the API response envelope ``{"queryEndTime":…, "messagesDelivered":[…], "messagesBlocked":[…],
"clicksPermitted":[…], "clicksBlocked":[…]}`` (lists may be empty or absent), one envelope per line, or
the records themselves as JSON lines / a JSON array (as SIEM collectors store them).

Which list a record came from decides its meaning, in this order of evidence (kept in ``list_basis``):

1. ``envelope``: the record sits in one of the four lists;
2. ``collector``: collector keys ``type`` (message|click) and ``status`` (delivered|blocked|permitted),
   as Sekoia's collector adds them (formats.md §2.1.4);
3. ``option``: the loader option ``tap_list`` (one of the four list names) given for a file of bare records;
4. ``file_envelope``: the file also holds envelopes that all carry the same single list for that kind
   of record (a file written from one endpoint, e.g. ``/v2/siem/clicks/permitted`` ending with an empty
   envelope), so its bare records come from that list;
5. keys: a message with a non-empty ``quarantineFolder`` was blocked, one without was delivered; a bare
   click that none of the above places stays ``clicked`` with ``tap_list`` NULL (permitted or blocked is
   not recorded in the record itself).

Every TAP record means the message or its URL is threat-classified (a clean simulation does not appear
in TAP), so the staged ``reason`` carries ``tap_threat:<classification>`` (lower-cased, as the case
varies). Messages give one row per ``recipient[]`` entry. Times are UTC with milliseconds and ``Z``
(a time without a zone is read as UTC, as TAP documents UTC). ``sender`` is hashed by TAP and kept as
is. The GoPhish ``rid`` (also URL-encoded) is taken from the click ``url``, and for messages from the
URL threats when exactly one rid is found and the record has at most one recipient.
"""

from __future__ import annotations

import json
import re
from typing import Any

from phishtrace.errors import InputError
from phishtrace.loaders._json_records import read_documents
from phishtrace.registry import Loader, Parsed, Reject, SourceFile
from phishtrace.timeparse import TimeParseError, parse_iso

MESSAGE_LISTS = ("messagesDelivered", "messagesBlocked")
CLICK_LISTS = ("clicksPermitted", "clicksBlocked")
LISTS = MESSAGE_LISTS + CLICK_LISTS
_COLLECTOR = {
    ("message", "delivered"): "messagesDelivered",
    ("message", "blocked"): "messagesBlocked",
    ("click", "permitted"): "clicksPermitted",
    ("click", "blocked"): "clicksBlocked",
}
# GoPhish rid in a URL: plain, percent-encoded, URL Defense v2 (-3D) or quoted-printable (=3D)
_RID = re.compile(r"(?:^|[?&;#/]|%3[Ff]|%26|-3F|-26|=3F|=26)rid(?:=|%3[Dd]|-3D|=3D)([A-Za-z0-9]+)")
EXPECTED = "Proofpoint TAP SIEM API JSON (an envelope with messagesDelivered/messagesBlocked/clicksPermitted/clicksBlocked, or message/click records)"


def rids(text: str | None) -> list[str]:
    """Every GoPhish rid found in a URL (plain or URL-encoded)."""
    return _RID.findall(text) if text else []


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    text = str(value).strip()
    return text or None


def _as_list(value: Any) -> list:
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


class ProofpointTapJson(Loader):
    name = "proofpoint_tap_json"
    hop = "filter"
    produces = "mail_events"
    recognised_by = (
        "JSON with a TAP SIEM envelope (queryEndTime + messagesDelivered/messagesBlocked/clicksPermitted/"
        "clicksBlocked) or TAP records (GUID with clickTime/clickIP or messageTime/threatsInfoMap)"
    )
    columns = {
        "tap_list": "VARCHAR",
        "list_basis": "VARCHAR",
        "record_kind": "VARCHAR",
        "event_time": "VARCHAR",
        "event_ts": "TIMESTAMPTZ",
        "guid": "VARCHAR",
        "qid": "VARCHAR",
        "tap_id": "VARCHAR",
        "message_id": "VARCHAR",
        "sender": "VARCHAR",
        "sender_ip": "VARCHAR",
        "recipient": "VARCHAR",
        "subject": "VARCHAR",
        "xmailer": "VARCHAR",
        "quarantine_folder": "VARCHAR",
        "quarantine_rule": "VARCHAR",
        "classification": "VARCHAR",
        "threat_status": "VARCHAR",
        "threats": "VARCHAR",
        "url": "VARCHAR",
        "click_ip": "VARCHAR",
        "user_agent": "VARCHAR",
        "token": "VARCHAR",
        "campaign_id": "VARCHAR",
        "query_end_time": "VARCHAR",
        "record": "JSON",
    }
    ts_column = "event_ts"

    def sniff(self, head: bytes, text: str) -> bool:
        t = text.lstrip("\ufeff \t\r\n")
        if not t.startswith(("{", "[")):
            return False
        if '"queryEndTime"' in t and any(f'"{name}"' in t for name in LISTS):
            return True
        if '"GUID"' not in t:
            return False
        if '"clickTime"' in t and '"clickIP"' in t:
            return True
        return '"messageTime"' in t and ('"threatsInfoMap"' in t or '"quarantineFolder"' in t)

    def parse(self, src: SourceFile) -> Parsed:
        option = src.options.get("tap_list")
        if option is not None and option not in LISTS:
            raise InputError(src.path, None, f"loader option tap_list={option!r}: expected one of {', '.join(LISTS)}")
        values, rejects, single_doc = read_documents(src, EXPECTED)

        # (position, record, list or None, basis) in file order
        records: list[tuple[int, Any, str | None, str | None, str | None]] = []
        envelope_lists: set[str] = set()
        counter = 0
        for pos, value in values:
            for item in value if isinstance(value, list) else [value]:
                is_envelope = isinstance(item, dict) and ("queryEndTime" in item or any(k in item for k in LISTS))
                if not is_envelope:
                    counter += 1
                    records.append((counter if single_doc else pos, item, None, None, None))
                    continue
                query_end = _text(item.get("queryEndTime"))
                for name in LISTS:
                    if name not in item:
                        continue
                    envelope_lists.add(name)
                    for rec in _as_list(item.get(name)):
                        counter += 1
                        records.append((counter if single_doc else pos, rec, name, "envelope", query_end))

        file_list = {
            "message": _single(envelope_lists, MESSAGE_LISTS),
            "click": _single(envelope_lists, CLICK_LISTS),
        }
        rows: list[dict[str, Any]] = []
        for pos, rec, tap_list, basis, query_end in records:
            if not isinstance(rec, dict):
                rejects.append(Reject(pos, f"expected a TAP record (a JSON object), got {type(rec).__name__}"))
                continue
            try:
                rows.extend(self._rows(pos, rec, tap_list, basis, query_end, option, file_list))
            except (TimeParseError, ValueError) as exc:
                rejects.append(Reject(pos, str(exc)))
        return Parsed(rows=rows, rejects=rejects)

    def _rows(self, pos, rec, tap_list, basis, query_end, option, file_list) -> list[dict[str, Any]]:
        if tap_list is not None:
            kind = "click" if tap_list in CLICK_LISTS else "message"
        elif "clickTime" in rec:
            kind = "click"
        elif "messageTime" in rec:
            kind = "message"
        else:
            raise ValueError(f"expected a TAP message (messageTime) or click (clickTime) record; keys: {', '.join(list(rec)[:8])}")
        if tap_list is None:
            collector = _COLLECTOR.get((str(rec.get("type", "")).lower(), str(rec.get("status", "")).lower()))
            if collector and (collector in CLICK_LISTS) == (kind == "click"):
                tap_list, basis = collector, "collector"
            elif option and (option in CLICK_LISTS) == (kind == "click"):
                tap_list, basis = option, "option"
            elif file_list[kind]:
                tap_list, basis = file_list[kind], "file_envelope"
            elif kind == "message":
                blocked = bool(_text(rec.get("quarantineFolder")))
                tap_list = "messagesBlocked" if blocked else "messagesDelivered"
                basis = "quarantineFolder" if blocked else "no quarantineFolder"
            else:
                basis = "unknown"
        time_key = "clickTime" if kind == "click" else "messageTime"
        raw_time = _text(rec.get(time_key))
        if raw_time is None:
            raise ValueError(f"TAP {kind} record without {time_key}: expected an ISO 8601 UTC time")
        event_ts = parse_iso(raw_time)
        base = {
            "source_row": pos,
            "tap_list": tap_list,
            "list_basis": basis,
            "record_kind": kind,
            "event_time": raw_time,
            "event_ts": event_ts,
            "guid": _text(rec.get("GUID")),
            "qid": _text(rec.get("QID")),
            "tap_id": _text(rec.get("id")),
            "message_id": _text(rec.get("messageID")),
            "sender": _text(rec.get("sender")),
            "sender_ip": _text(rec.get("senderIP")),
            "campaign_id": _text(rec.get("campaignId") or rec.get("campaignID")),
            "query_end_time": query_end,
            "record": json.dumps(rec, ensure_ascii=False),
        }
        if kind == "click":
            url = _text(rec.get("url"))
            found = sorted(set(rids(url)))
            return [{
                **base,
                "recipient": _text(rec.get("recipient")),
                "classification": (_text(rec.get("classification")) or "").lower() or None,
                "threat_status": _text(rec.get("threatStatus")),
                "threats": _text(rec.get("threatURL")),
                "url": url,
                "click_ip": _text(rec.get("clickIP")),
                "user_agent": _text(rec.get("userAgent")),
                "token": found[0] if len(found) == 1 else None,
            }]
        threats = [t for t in _as_list(rec.get("threatsInfoMap")) if isinstance(t, dict)]
        classes = sorted({str(t["classification"]).lower() for t in threats if t.get("classification")})
        statuses = sorted({str(t["threatStatus"]) for t in threats if t.get("threatStatus")})
        urls = [str(t.get("threat")) for t in threats
                if str(t.get("threatType", "")).lower() == "url" and t.get("threat")]
        recipients = [str(r).strip() for r in _as_list(rec.get("recipient")) if str(r).strip()] or [None]
        found = sorted({rid for u in urls for rid in rids(u)})
        token = found[0] if len(found) == 1 and len(recipients) == 1 else None
        message = {
            **base,
            "subject": _text(rec.get("subject")),
            "xmailer": _text(rec.get("xmailer")),
            "quarantine_folder": _text(rec.get("quarantineFolder")),
            "quarantine_rule": _text(rec.get("quarantineRule")),
            "classification": ",".join(classes) or None,
            "threat_status": ",".join(statuses) or None,
            "threats": " ".join(urls) or None,
            "token": token,
        }
        return [{**message, "recipient": r} for r in recipients]


def _single(seen: set[str], names: tuple[str, ...]) -> str | None:
    hits = [n for n in names if n in seen]
    return hits[0] if len(hits) == 1 else None
