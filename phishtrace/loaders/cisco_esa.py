"""Cisco Secure Email Gateway (IronPort ESA) logs (formats.md §2.3): text mail logs and bounce logs
(`cisco_esa_text`) and consolidated event logs in CEF (`cisco_esa_cef`).

`cisco_esa_text` reads both physical forms of §2.3.1, line by line:

* file (``mail_logs.@….s``, ``bounces.@….s``): ``Fri Mar 25 20:50:10 2022 Info: <message>`` (ctime,
  single-digit days space-padded; the weekday is not checked, sanitised fixtures carry wrong ones);
* syslog push: ``[<PRI>]Mar 17 18:24:37 [host] mail_logs: Info: <message>``. There is no year: it is taken
  from ``--year`` (the year of the first line; a jump from December back to January adds one).

Times are appliance local time with no zone, so ``--tz`` is required; they are stored in UTC (an hour that
repeats when clocks go back is read as its first occurrence). A line that is neither form (another format
in the middle) or has an impossible date is rejected (``load_rejects``; more than 1 % of the rows fails the
file, rows being the facts below, not every line). Lines are parsed into facts (one row per recipient index for ``RID [0, 1]``
lists) with ``kind``: from, rcpt, message_id, subject, quarantined (``quarantined to "X"``, ``ISQ:/EUQ:
Tagging``), released, deleted (from quarantine), child (``rewritten to``, ``was split creating``, ``was
generated based on``: ``related_mid`` is the new MID), done (``Message done DCID … to RID [...]``, ``MID n
RID k done``), response (``MID n RID [k] Response …``), url (``MID n URL … has reputation``, with the
GoPhish rid in ``token``), bounced / delayed (mail_logs ``Bounced: DCID d MID m to RID r - 5.1.0 - … ('550',
[...])`` and the bounce-log ``Bounced: MID:RID From:<…> To:<…> Reason: "…" Response: "('550', [...])"``).
Other lines (connections, ``Start MID``, ``Delivery start``, ``queued for delivery``, verdict engines, system
messages) carry no delivery fact and are skipped.

The facts are stitched in ``stg_cisco_esa_text.sql`` per (customer, syslog host, MID) across all loads, so
a quarantine release logged in a later file still finds its recipients; a new MID created by a release or
split inherits recipients, sender, Message-ID and subject from its parent when it has none of its own.
MIDs are unique per appliance only: file-form logs carry no host, so load one appliance's files per
customer (or push them by syslog, whose host keys the MID).

`cisco_esa_cef` reads ``CEF:0|Cisco|…|ESA_CONSOLIDATED_LOG_EVENT|…`` lines (optionally behind a syslog
header) per §2.3.3. Extension values are not escaped, so the extension is split before each
`` <known key>=`` (ESA*, csN/cfpN/cnN[Label] and the standard CEF keys); ``\\=`` is read as ``=`` (seen
in elastic's consolidated-event fixture). One row per recipient of ``duser`` (``;``-list). ``start``/
``startTime`` and ``end``/``endTime`` are appliance local time (``--tz`` required); the event time is
the start time (the end time when there is no start).
"""

from __future__ import annotations

import json
import quopri
import re
from datetime import datetime, timezone, tzinfo
from typing import Any, Iterator

from phishtrace.errors import InputError
from phishtrace.loaders._filter_helpers import rid_token
from phishtrace.registry import Loader, Parsed, Reject, SourceFile

_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}
_LEVELS = r"(?P<level>Info|Warning|Critical|Debug|Trace|Notice|Error|Alert|Emergency)"
_FILE_LINE = re.compile(
    r"^(?P<ts>[A-Z][a-z]{2} (?P<mon>[A-Z][a-z]{2}) {1,2}(?P<day>\d{1,2}) (?P<hms>\d{2}:\d{2}:\d{2}) (?P<year>\d{4})) "
    + _LEVELS + r": (?P<msg>.*)$")
_SYSLOG_LINE = re.compile(
    r"^(?:<\d{1,3}>)?(?P<ts>(?P<mon>[A-Z][a-z]{2}) {1,2}(?P<day>\d{1,2}) (?P<hms>\d{2}:\d{2}:\d{2}))"
    r"(?: (?P<host>[^\s:]+))? (?P<log>[\w.-]+): " + _LEVELS + r": (?P<msg>.*)$")
_CTIME = re.compile(r"^[A-Z][a-z]{2} ([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})$")
_ESA_FACT = re.compile(r"\b(?:MID|ICID|DCID) \d+|^(?:Bounced|Delayed): ")

_P_FROM = re.compile(r"^MID (\d+) ICID (\d+) From: ?<([^>]*)>")
_P_TO = re.compile(r"^MID (\d+) ICID (\d+) RID (\d+) To: ?<([^>]*)>")
_P_MSGID = re.compile(r"^MID (\d+) Message-ID (.*)$")
_P_SUBJECT = re.compile(r"^MID (\d+) Subject ?(.*)$")
_P_QUAR = re.compile(r'^MID (\d+) quarantined to "([^"]*)"\s*(.*)$')
_P_ISQ = re.compile(r"^(?:ISQ|EUQ): Tagging MID (\d+) for quarantine\s*(.*)$")
_P_RELEASED = re.compile(r'^MID (\d+) released from (?:quarantine "([^"]*)"|(all quarantines))\s*(.*)$')
_P_DELETED = re.compile(r'^MID (\d+) deleted from (?:quarantine "([^"]*)"|(all quarantines))\s*(.*)$')
_P_REWRITE = re.compile(r"^MID (\d+) rewritten to (?:MID )?(\d+)\s*(.*)$")
_P_SPLIT = re.compile(r"^MID (\d+) was split creating MID (\d+)\s*(.*)$")
_P_BASED = re.compile(r"^MID (\d+) was generated based on MID (\d+)\s*(.*)$")
_P_DONE = re.compile(r"^Message done DCID (\d+) MID (\d+) to RID \[([\d, ]+)\]\s*(.*)$")
_P_RID_DONE = re.compile(r"^MID (\d+) RID \[?([\d, ]+)\]? done\b\s*(.*)$")
_P_RESPONSE = re.compile(r"^MID (\d+) RID \[?([\d, ]+)\]? Response (.*)$")
_P_URL = re.compile(r"^MID (\d+) URL (.+?) has reputation\b")
_P_BOUNCE = re.compile(r"^(Bounced|Delayed): (.*)$")
_B_MIDRID = re.compile(r"^(\d+):(\d+)\b")
_B_DCID = re.compile(r"\bDCID (\d+)")
_B_MID = re.compile(r"\bMID (\d+)")
_B_RID = re.compile(r"\bRID \[?(\d+)")
_B_FROM = re.compile(r"\bFrom: ?<([^>]*)>")
_B_TO = re.compile(r"\bTo: ?<([^>]*)>")
_B_ENHANCED = re.compile(r"(?:^|[\s\"])([245]\.\d{1,3}\.\d{1,3}) - ")
_B_SMTP = re.compile(r"\('(\d{3})', \[(.*?)\]\)")


TEXT_EXPECTED = ("Cisco ESA mail/bounce log lines ('Fri Mar 25 20:50:10 2022 Info: …' or syslog "
                 "'Mar 17 18:24:37 [host] mail_logs: Info: …')")
UTC = timezone.utc


def local_to_utc(year: int, mon: str, day: int, hms: str, tz: tzinfo) -> datetime:
    """An appliance-local time (no zone) to UTC; ValueError for an unknown month or impossible date."""
    month = _MONTHS.get(mon)
    if month is None:
        raise ValueError(f"unknown month {mon!r}")
    hour, minute, second = (int(x) for x in hms.split(":"))
    return datetime(year, month, day, hour, minute, second, tzinfo=tz).astimezone(UTC)


def ctime_to_utc(text: str, tz: tzinfo) -> datetime:
    """'Thu Nov  3 14:05:43 2022' or 'Wed Aug 6 07:46:00 2025' (appliance local time) to UTC."""
    m = _CTIME.match(" ".join(text.split()))
    if not m:
        raise ValueError(f"expected a time like 'Wed Aug 6 07:46:00 2025', got {text!r}")
    mon, day, hh, mm, ss, year = m.groups()
    return local_to_utc(int(year), mon, int(day), f"{hh}:{mm}:{ss}", tz)


def _unquote(value: str) -> str:
    v = value.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        return v[1:-1]
    return v


def _rids(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"\d+", text)]


def _tidy(detail: str) -> str:
    """A bounce reason without the bounce-log quoting ('Reason: "…" Response: "…"')."""
    if "Response:" not in detail:
        return detail.strip()
    text = re.sub(r'"\s*Response:\s*"', " ", detail)
    return re.sub(r'"(?=\s*(?:Headers:|$))', "", text).strip()


def _bounce(kind: str, rest: str) -> dict[str, Any]:
    m = _B_MIDRID.match(rest)
    if m:
        mid, rid = int(m.group(1)), int(m.group(2))
    else:
        mm = _B_MID.search(rest)
        if not mm:
            raise ValueError(f"{kind} line without a MID: expected 'DCID d MID m to RID r - x.y.z - …' "
                             "or 'MID:RID From:<…> To:<…>'")
        r = _B_RID.search(rest)
        mid, rid = int(mm.group(1)), int(r.group(1)) if r else None
    dcid = _B_DCID.search(rest)
    sender, to = _B_FROM.search(rest), _B_TO.search(rest)
    enhanced, smtp = _B_ENHANCED.search(rest), _B_SMTP.search(rest)
    return {
        "kind": "bounced" if kind == "Bounced" else "delayed",
        "mid": mid,
        "rid": rid,
        "dcid": int(dcid.group(1)) if dcid else None,
        "sender": sender.group(1) if sender else None,
        "address": to.group(1) if to else None,
        "enhanced_code": enhanced.group(1) if enhanced else None,
        "smtp_code": smtp.group(1) if smtp else None,
        "value": smtp.group(2) if smtp else None,
        "detail": _tidy(rest[enhanced.start(1):] if enhanced else rest),
    }


def facts(msg: str) -> list[dict[str, Any]]:
    """The delivery facts one mail-log message carries (none for most lines); ValueError when malformed."""
    if not _ESA_FACT.search(msg):
        return []
    if m := _P_TO.match(msg):
        return [{"kind": "rcpt", "mid": int(m[1]), "icid": int(m[2]), "rid": int(m[3]), "address": m[4]}]
    if m := _P_FROM.match(msg):
        return [{"kind": "from", "mid": int(m[1]), "icid": int(m[2]), "address": m[3]}]
    if m := _P_MSGID.match(msg):
        return [{"kind": "message_id", "mid": int(m[1]), "value": _unquote(m[2])}]
    if m := _P_SUBJECT.match(msg):
        return [{"kind": "subject", "mid": int(m[1]), "value": _unquote(m[2]).replace("\\r\\n", "")}]
    if m := _P_QUAR.match(msg):
        return [{"kind": "quarantined", "mid": int(m[1]), "value": m[2], "detail": m[3] or None}]
    if m := _P_ISQ.match(msg):
        return [{"kind": "quarantined", "mid": int(m[1]), "value": "Spam Quarantine", "detail": msg}]
    for pattern, kind in ((_P_RELEASED, "released"), (_P_DELETED, "deleted")):
        if m := pattern.match(msg):
            return [{"kind": kind, "mid": int(m[1]), "value": m[2] or m[3], "detail": m[4] or None}]
    if m := _P_REWRITE.match(msg) or _P_SPLIT.match(msg):
        return [{"kind": "child", "mid": int(m[1]), "related_mid": int(m[2]), "detail": msg}]
    if m := _P_BASED.match(msg):
        return [{"kind": "child", "mid": int(m[2]), "related_mid": int(m[1]), "detail": msg}]
    if m := _P_DONE.match(msg):
        return [{"kind": "done", "dcid": int(m[1]), "mid": int(m[2]), "rid": rid, "detail": m[4] or None}
                for rid in _rids(m[3])]
    if m := _P_RID_DONE.match(msg):
        return [{"kind": "done", "mid": int(m[1]), "rid": rid, "detail": m[3] or None} for rid in _rids(m[2])]
    if m := _P_RESPONSE.match(msg):
        return [{"kind": "response", "mid": int(m[1]), "rid": rid, "value": _unquote(m[3])} for rid in _rids(m[2])]
    if m := _P_URL.match(msg):
        url = m[2].strip().strip("<>")
        return [{"kind": "url", "mid": int(m[1]), "value": url, "token": rid_token(url)}]
    if m := _P_BOUNCE.match(msg):
        return [_bounce(m[1], m[2])]
    return []


def _first_lines(text: str, n: int = 20) -> list[str]:
    return [line.lstrip("\ufeff") for line in text.splitlines()[:n] if line.strip()]


class CiscoEsaText(Loader):
    name = "cisco_esa_text"
    hop = "filter"
    produces = "mail_events"
    recognised_by = (
        "Cisco ESA text mail logs or bounce logs: 'Fri Mar 25 20:50:10 2022 Info: …' lines, or syslog "
        "'Mar 17 18:24:37 [host] mail_logs: Info: …', with MID/ICID/DCID or Bounced:/Delayed: messages"
    )
    columns = {
        "log_form": "VARCHAR",
        "host": "VARCHAR",
        "level": "VARCHAR",
        "logged_at": "VARCHAR",
        "event_ts": "TIMESTAMPTZ",
        "kind": "VARCHAR",
        "mid": "BIGINT",
        "rid": "BIGINT",
        "icid": "BIGINT",
        "dcid": "BIGINT",
        "related_mid": "BIGINT",
        "address": "VARCHAR",
        "sender": "VARCHAR",
        "value": "VARCHAR",
        "enhanced_code": "VARCHAR",
        "smtp_code": "VARCHAR",
        "detail": "VARCHAR",
        "token": "VARCHAR",
        "message": "VARCHAR",
    }
    ts_column = "event_ts"
    needs_tz = True

    def sniff(self, head: bytes, text: str) -> bool:
        lines = _first_lines(text)
        if not lines:
            return False
        matches = [_FILE_LINE.match(line) or _SYSLOG_LINE.match(line) for line in lines]
        if not matches[0]:
            return False
        return any(m and (_ESA_FACT.search(m["msg"]) or m.groupdict().get("log") in ("mail_logs", "bounces"))
                   for m in matches)

    def parse(self, src: SourceFile) -> Parsed:
        if src.tz is None:
            raise InputError(src.path, None,
                             "Cisco ESA log times carry no time zone: give the appliance's zone with --tz")
        rows: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        year, last_month = src.year, 0
        cache: tuple[str, int, datetime] | None = None
        for n, line in src.lines():
            if not line.strip():
                continue
            m = _FILE_LINE.match(line)
            form = "file"
            if m:
                line_year = int(m["year"])
            else:
                m = _SYSLOG_LINE.match(line)
                if not m:
                    rejects.append(Reject(n, f"not a Cisco ESA log line: expected {TEXT_EXPECTED}"))
                    continue
                if year is None:
                    raise InputError(src.path, n, "syslog-pushed Cisco ESA lines carry no year: give the year of "
                                     "the first line with --year")
                form = "syslog"
                month = _MONTHS.get(m["mon"], 0)
                if month and last_month and month < last_month - 6:
                    year += 1
                last_month = month or last_month
                line_year = year
            try:
                found = facts(m["msg"])
                if cache and cache[0] == m["ts"] and cache[1] == line_year:
                    event_ts = cache[2]
                else:
                    event_ts = local_to_utc(line_year, m["mon"], int(m["day"]), m["hms"], src.tz)
                    cache = (m["ts"], line_year, event_ts)
            except ValueError as exc:
                rejects.append(Reject(n, f"{exc} in {m['ts']!r} line: expected {TEXT_EXPECTED}"))
                continue
            common = {
                "source_row": n,
                "log_form": form,
                "host": m.groupdict().get("host"),
                "level": m["level"],
                "logged_at": m["ts"],
                "event_ts": event_ts,
                "message": m["msg"],
            }
            rows.extend({**common, **fact} for fact in found)
        return Parsed(rows=rows, rejects=rejects)


# --- consolidated event logs (CEF) ------------------------------------------------------------------
_CEF_KEYS = (
    r"ESA[A-Za-z0-9_]+|c[sn]\d+(?:Label)?|cfp\d+(?:Label)?|c6a\d+(?:Label)?|flexString\d+(?:Label)?"
    r"|deviceCustom(?:Date|Number|String)\d+(?:Label)?|act|app|cat|cnt|dhost|dmac|dntdom|dpid|dpriv|dproc|dpt"
    r"|dst|dtz|duid|duser|dvc|dvchost|dvcmac|dvcpid|end|endTime|externalId|fname|fsize|in|msg|out|outcome"
    r"|proto|reason|request|rt|shost|smac|sntdom|spid|spriv|sproc|spt|src|start|startTime|suid|suser"
    r"|sourceAddress|sourceHostName|sourcePort|destinationAddress|destinationHostName|deviceExternalId"
    r"|deviceDirection|deviceInboundInterface|deviceOutboundInterface|deviceProcessName|deviceFacility"
    r"|deviceHostName|deviceAddress"
)
_CEF_KEY = re.compile(r"(?:^|(?<=\s))(" + _CEF_KEYS + r")=")
_CEF_PREFIX = re.compile(
    r"^(?:<\d{1,3}>)?(?:[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}|\d{4}-\d{2}-\d{2}T\S+)"
    r"(?: (?P<host>[^\s:]+))? [\w.-]+: $")
_CEF_PIPE = re.compile(r"(?<!\\)\|")
CEF_EXPECTED = ("Cisco ESA consolidated event lines 'CEF:0|Cisco|<appliance>|<version>|"
                "ESA_CONSOLIDATED_LOG_EVENT|Consolidated Log Event|<severity>|key=value …'")


def cef_extension(ext: str) -> dict[str, str]:
    """Key/value pairs of an unescaped CEF extension, split before every ' <known key>='."""
    found = list(_CEF_KEY.finditer(ext))
    if not found or ext[: found[0].start()].strip():
        raise ValueError("the CEF extension does not start with a key=value pair")
    fields: dict[str, str] = {}
    for i, m in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(ext)
        value = re.sub(r"\\+=", "=", ext[m.end():end].strip())
        if m[1] not in fields or not fields[m[1]]:
            fields[m[1]] = value
    return fields


def _subject(value: str | None) -> str | None:
    if value is None:
        return None
    text = _unquote(value)
    if "=20" in text and re.search(r"=[0-9A-F]{2}", text):
        text = quopri.decodestring(text.encode("utf-8")).decode("utf-8", errors="replace")
    return text or None


class CiscoEsaCef(Loader):
    name = "cisco_esa_cef"
    hop = "filter"
    produces = "mail_events"
    recognised_by = "Cisco ESA consolidated event logs: 'CEF:0|Cisco|…|ESA_CONSOLIDATED_LOG_EVENT|…' lines"
    columns = {
        "host": "VARCHAR",
        "product": "VARCHAR",
        "product_version": "VARCHAR",
        "device_id": "VARCHAR",
        "esamid": "VARCHAR",
        "icid": "VARCHAR",
        "dcid": "VARCHAR",
        "act": "VARCHAR",
        "final_action_details": "VARCHAR",
        "status": "VARCHAR",
        "message_id": "VARCHAR",
        "sender": "VARCHAR",
        "friendly_from": "VARCHAR",
        "recipients": "VARCHAR",
        "recipient": "VARCHAR",
        "subject": "VARCHAR",
        "start_time": "VARCHAR",
        "end_time": "VARCHAR",
        "start_ts": "TIMESTAMPTZ",
        "end_ts": "TIMESTAMPTZ",
        "event_ts": "TIMESTAMPTZ",
        "url_details": "VARCHAR",
        "token": "VARCHAR",
        "extension": "JSON",
    }
    ts_column = "event_ts"
    needs_tz = True

    def sniff(self, head: bytes, text: str) -> bool:
        lines = _first_lines(text)
        first = lines[0] if lines else ""
        return "CEF:" in first and "|Cisco|" in first and "|ESA_CONSOLIDATED_LOG_EVENT|" in first

    def parse(self, src: SourceFile) -> Parsed:
        if src.tz is None:
            raise InputError(src.path, None, "Cisco ESA consolidated event times carry no time zone: give the "
                             "appliance's zone with --tz")
        rows: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        for n, line in src.lines():
            if not line.strip():
                continue
            try:
                rows.extend(self._rows(n, line, src.tz))
            except ValueError as exc:
                rejects.append(Reject(n, f"{exc}: expected {CEF_EXPECTED}"))
        return Parsed(rows=rows, rejects=rejects)

    def _rows(self, n: int, line: str, tz: tzinfo) -> Iterator[dict[str, Any]]:
        at = line.find("CEF:")
        if at < 0:
            raise ValueError("not a CEF line")
        prefix = _CEF_PREFIX.match(line[:at]) if at else None
        if at and not prefix:
            raise ValueError(f"unexpected text before 'CEF:': {line[:min(at, 40)]!r}")
        parts = _CEF_PIPE.split(line[at:], maxsplit=7)
        if len(parts) < 8:
            raise ValueError("truncated CEF header (fewer than 8 '|'-separated fields)")
        if parts[1] != "Cisco" or parts[4] != "ESA_CONSOLIDATED_LOG_EVENT":
            raise ValueError(f"a CEF event from {parts[1]!r}/{parts[4]!r}, not a Cisco ESA consolidated event")
        f = cef_extension(parts[7])
        start_raw, end_raw = f.get("start") or f.get("startTime"), f.get("end") or f.get("endTime")
        start_ts = ctime_to_utc(start_raw, tz) if start_raw else None
        end_ts = ctime_to_utc(end_raw, tz) if end_raw else None
        if start_ts is None and end_ts is None:
            raise ValueError("consolidated event without start/startTime or end/endTime")
        label = (f.get("cs4Label") or "ExternalMsgID").lower()
        message_id = _unquote(f["cs4"]) if f.get("cs4") and label == "externalmsgid" else None
        recipients = [r.strip() for r in re.split(r"[;,]", f.get("duser") or "") if r.strip()] or [None]
        url_details = f.get("ESAURLDetails") or None
        token = rid_token(url_details) if len(recipients) == 1 else None
        base = {
            "source_row": n,
            "host": prefix.group("host") if prefix else None,
            "product": parts[2],
            "product_version": parts[3],
            "device_id": f.get("deviceExternalId") or None,
            "esamid": f.get("ESAMID") or None,
            "icid": f.get("ESAICID") or None,
            "dcid": f.get("ESADCID") or None,
            "act": f.get("act") or None,
            "final_action_details": f.get("ESAFinalActionDetails") or None,
            "status": f.get("ESAStatus") or None,
            "message_id": message_id or None,
            "sender": f.get("suser") or None,
            "friendly_from": f.get("ESAFriendlyFrom") or None,
            "recipients": f.get("duser") or None,
            "subject": _subject(f.get("msg")),
            "start_time": start_raw,
            "end_time": end_raw,
            "start_ts": start_ts,
            "end_ts": end_ts,
            "event_ts": start_ts or end_ts,
            "url_details": url_details,
            "token": token,
            "extension": json.dumps(f, ensure_ascii=False),
        }
        for recipient in recipients:
            yield {**base, "recipient": recipient}
