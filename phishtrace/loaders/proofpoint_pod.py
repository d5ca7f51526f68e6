"""Proofpoint on Demand Log API records, JSON lines: `message` (filter verdict) and `maillog` (sendmail) records.

Follows reference/formats.md §2.1.1 (message records) and §2.1.2 (maillog records):

* A line is a message record when it has `guid` / `envelope` / `filter`, a maillog record when it has an
  `sm` object (the parsed sendmail key=values; `data` holds the raw sendmail line). The optional
  collector key `type` ("message" / "maillog") is honoured when present.
* The event time is `ts` (`-0700` or `-07:00` offsets); `data`'s leading timestamp is used only when
  `ts` is absent (hand-edited fixtures make the two disagree: `ts` wins).
* A message record with several `envelope.rcpts` gives one row per recipient; a maillog `to=` line
  one row per `sm.to[]` entry (`<>` stripped); `from=` lines (no recipient) are kept once.
* `final_action` / `final_module` / `final_rule` are the top-level keys when present (an UNCERTAIN
  variant seen in Elastic fixtures), else the `filter.actions[]` entry with `isFinal`.
* `message_id`: `msg.normalizedHeader.message-id[0]`, else `msg.header.message-id[0]`, else `sm.msgid`.
* `token`: a GoPhish `rid` (7 characters) found in any `msgParts[].urls[].url`, also URL-encoded
  (`rid%3D`) or Proofpoint-URL-Defense-encoded (`rid-3D`).

The vendor → action mapping is in sql/10_staging/stg_proofpoint_pod_json.sql (docs/architecture.md).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from phishtrace.registry import Loader, Parsed, Reject, SourceFile
from phishtrace.timeparse import TimeParseError, parse_iso

# rid=<7 alphanumerics> after a URL separator, plain or percent / URL-Defense encoded
_TOKEN = re.compile(r"(?:^|[?&#;/]|%3[fF]|%26|-3F|-26)rid(?:=|%3[dD]|-3D)([A-Za-z0-9]{7})(?![A-Za-z0-9])")
# leading ISO timestamp of a maillog `data` line
_DATA_TS = re.compile(r"^\s*(\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)\s")
# keys that identify each record kind in the first line of a file
_MESSAGE_KEYS = ('"guid"', '"envelope"', '"filter"')
_MAILLOG_KEYS = ('"sm"', '"data"')


def _text(value: Any) -> str | None:
    """A source value as text: '' and None give None, non-strings their JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    return orjson.dumps(value).decode()


def _first(value: Any) -> str | None:
    """First non-empty element of a header array (or the value itself)."""
    if isinstance(value, list):
        for item in value:
            text = _text(item)
            if text is not None:
                return text
        return None
    return _text(value)


def _addr(value: Any) -> str | None:
    text = _text(value)
    if text is None:
        return None
    text = text.strip().strip("<>").strip()
    return text or None


def _obj(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _urls(record: dict) -> list[str]:
    out = []
    for part in record.get("msgParts") or []:
        for item in _obj(part).get("urls") or []:
            url = item.get("url") if isinstance(item, dict) else item
            if isinstance(url, str) and url:
                out.append(url)
    return out


def _token(urls: list[str]) -> str | None:
    for url in urls:
        m = _TOKEN.search(url)
        if m:
            return m.group(1)
    return None


class ProofpointPodJson(Loader):
    name = "proofpoint_pod_json"
    hop = "filter"
    produces = "mail_events"
    recognised_by = (
        "JSON lines from the Proofpoint on Demand Log API: message records (guid, envelope, filter) "
        "and/or maillog records (sm, data)"
    )
    columns = {
        "record_type": "VARCHAR",  # message | maillog
        "guid": "VARCHAR",
        "qid": "VARCHAR",
        "ts": "VARCHAR",
        "event_ts": "TIMESTAMPTZ",
        "sender": "VARCHAR",
        "recipient": "VARCHAR",
        "message_id": "VARCHAR",
        "subject": "VARCHAR",
        "disposition": "VARCHAR",
        "final_action": "VARCHAR",
        "final_module": "VARCHAR",
        "final_rule": "VARCHAR",
        "final_source": "VARCHAR",  # top-level | actions: where final_action/module/rule come from
        "quarantine_folder": "VARCHAR",
        "quarantine_rule": "VARCHAR",
        "route_direction": "VARCHAR",
        "x_mailer": "VARCHAR",
        "urls": "JSON",
        "token": "VARCHAR",
        "sm_stat": "VARCHAR",
        "sm_dsn": "VARCHAR",
        "sm_mailer": "VARCHAR",
        "sm_relay": "VARCHAR",
        "record": "JSON",
    }
    ts_column = "event_ts"

    def sniff(self, head: bytes, text: str) -> bool:
        body = text.lstrip("\ufeff \t\r\n")
        if not body.startswith("{"):
            return False
        first = body.split("\n", 1)[0]
        if all(k in first for k in _MESSAGE_KEYS):
            return True
        # a first record larger than the head may show msgParts (base64 parts) before the other keys
        if '"msgParts"' in first and any(k in first for k in (*_MESSAGE_KEYS, '"connection"')):
            return True
        return all(k in first for k in _MAILLOG_KEYS) and re.search(r'"sm"\s*:\s*\{', first) is not None

    def parse(self, src: SourceFile) -> Parsed:
        rows: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        for line_no, line in src.lines():
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                rejects.append(Reject(line_no, f"not a JSON object ({exc}): expected one PoD record per line"))
                continue
            if not isinstance(record, dict):
                rejects.append(Reject(line_no, "not a JSON object: expected one PoD record per line"))
                continue
            try:
                rows.extend(self._rows(line_no, line, record))
            except (TimeParseError, ValueError) as exc:
                rejects.append(Reject(line_no, str(exc)))
            except (AttributeError, TypeError) as exc:
                rejects.append(Reject(line_no, f"unexpected record structure ({exc})"))
        return Parsed(rows=rows, rejects=rejects)

    # -- one record ---------------------------------------------------------------------------
    def _rows(self, line_no: int, line: str, record: dict) -> list[dict[str, Any]]:
        kind = record.get("type")
        if kind not in ("message", "maillog"):
            if isinstance(record.get("sm"), dict):
                kind = "maillog"
            elif any(k in record for k in ("guid", "envelope", "filter")):
                kind = "message"
            else:
                raise ValueError("neither a message record (guid, envelope, filter) nor a maillog record (sm, data)")
        ts = _text(record.get("ts"))
        if ts is None and kind == "maillog":
            m = _DATA_TS.match(str(record.get("data") or ""))
            ts = m.group(1) if m else None
        if ts is None:
            raise ValueError("record has no 'ts' timestamp")
        try:
            event_ts = parse_iso(ts, naive_tz=None)
        except TimeParseError as exc:
            raise ValueError(f"bad 'ts' timestamp: {exc}") from None
        base = dict.fromkeys(self.columns)
        base.update(source_row=line_no, record_type=kind, ts=ts, event_ts=event_ts, record=line)
        if kind == "message":
            return self._message(base, record)
        return self._maillog(base, record)

    def _message(self, base: dict[str, Any], record: dict) -> list[dict[str, Any]]:
        env = _obj(record.get("envelope"))
        flt = _obj(record.get("filter"))
        msg = _obj(record.get("msg"))
        header = _obj(msg.get("header"))
        normalized = _obj(msg.get("normalizedHeader"))
        final = next((a for a in flt.get("actions") or [] if isinstance(a, dict) and a.get("isFinal")), {})
        quarantine = _obj(flt.get("quarantine"))
        urls = _urls(record)
        base.update(
            guid=_text(record.get("guid")),
            qid=_text(flt.get("qid")),
            sender=_addr(env.get("from")),
            message_id=_first(normalized.get("message-id")) or _first(header.get("message-id")),
            subject=_first(normalized.get("subject")) or _first(header.get("subject")),
            disposition=_text(flt.get("disposition")),
            final_action=_text(record.get("final_action")) or _text(final.get("action")),
            final_module=_text(record.get("final_module")) or _text(final.get("module")),
            final_rule=_text(record.get("final_rule")) or _text(final.get("rule")),
            final_source="top-level" if _text(record.get("final_action")) else ("actions" if final else None),
            quarantine_folder=_text(quarantine.get("folder")),
            quarantine_rule=_text(quarantine.get("rule")),
            route_direction=_text(flt.get("routeDirection")),
            x_mailer=_first(header.get("x-mailer")) or _first(normalized.get("x-mailer")),
            urls=orjson.dumps(urls).decode() if urls else None,
            token=_token(urls),
        )
        rcpts = env.get("rcpts")
        recipients = [_addr(r) for r in rcpts] if isinstance(rcpts, list) else [_addr(rcpts)]
        recipients = [r for r in recipients if r] or [None]
        return [{**base, "recipient": r} for r in recipients]

    def _maillog(self, base: dict[str, Any], record: dict) -> list[dict[str, Any]]:
        sm = _obj(record.get("sm"))
        base.update(
            qid=_text(sm.get("qid")),
            sender=_addr(sm.get("from")),
            message_id=_text(sm.get("msgid")),
            sm_stat=_text(sm.get("stat")),
            sm_dsn=_text(sm.get("dsn")),
            sm_mailer=_text(sm.get("mailer")),
            sm_relay=_text(sm.get("relay")),
        )
        to = sm.get("to")
        if isinstance(to, str):
            to = to.split(",")
        recipients = [_addr(r) for r in to] if isinstance(to, list) else []
        recipients = [r for r in recipients if r] or [None]
        return [{**base, "recipient": r} for r in recipients]
