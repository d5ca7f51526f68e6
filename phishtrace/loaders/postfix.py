"""Postfix maillog (`postfix_log`), formats.md §3.6, §4.2 and §5.3.

Line shapes read:

* RFC 3164 syslog `Nov  3 14:05:09 host postfix/smtp[123]: …`: no year and no zone. `--tz` (the
  host's zone) and `--year` (the year of the file's first line) are required. The year advances
  when the month jumps back by more than six months (Dec → Jan); a line whose month is more than
  six months ahead of the running month (a December line logged just after New Year) belongs to
  the year before. Local times are converted with the zone's rules (an ambiguous time at a DST
  change takes its first occurrence).
* RFC 3339 `2026-11-03T14:05:09.123456+01:00 host postfix/lmtp[1]: …` (rsyslog): the offset is
  used; a stamp without offset needs `--tz`.
* Message parts without syslog prefix (`0F5383D: message-id=<…>`, the whyscream test files) when
  the file starts with one: read the same way, with no time (event_ts NULL).

Programs `postfix[-instance][/name…]/<service>` are read; `dovecot` `saved mail to FOLDER` /
`stored mail into mailbox 'FOLDER'` lines (UNCERTAIN wording for non-INBOX folders) give the folder
of an lmtp/lda delivery. Other programs and lines that match no prefix (corrupted lines such as
`ec  7 13:28:02 …`) are skipped.

Linking (per host and queue id, within one message lifetime that ends at `qmgr: removed`; a new
`client=`/`uid=` line or a second cleanup `message-id=` also starts a new one): cleanup
`message-id=<…>` and qmgr `from=<…>, size=…, nrcpt=…` give every row of the queue id its
Message-ID and sender. A `status=sent` to a loopback relay (content filter such as amavis on
127.0.0.1:10024) whose reply says `queued as NEWID`, and a local `forwarded as NEWID`, hand the
message over to NEWID: that row is not final (content_filter / next_queue_id), rows of NEWID
inherit Message-ID and sender when NEWID has none of its own, and the hand-off row takes NEWID's
when its own queue id has none in the file. A `queued as` in a remote relay's reply is the remote's
queue id and is not followed.

The event's recipient is `orig_to` when logged (the address the sender used, before alias or
virtual rewriting; the rewritten address is kept in the reason), else `to`.

Raw rows (one per delivery-status line and per reject): `kind` = delivery, expired, reject,
milter-reject, hold or discard. stg_postfix_log maps them:

| line | action | location |
|---|---|---|
| status=sent via lmtp / local / virtual, relay=local / virtual / unix socket / dovecot | delivered | inbox |
| the same, Dovecot folder Junk / Spam | junked | junk |
| the same, Dovecot folder Trash / Deleted Items; any other non-INBOX folder | delivered | deleted; other_folder |
| status=sent to a loopback relay with `queued as`, or `forwarded as` | received (hand-off, not final) | |
| status=sent to any other relay | relayed | external |
| status=bounced | bounced | none |
| status=deferred, SOFTBOUNCE | deferred | |
| qmgr `status=expired, returned to sender` (one row per recipient still deferred, with the orig_to its deferrals logged; else one without recipient) | dropped | none |
| smtpd `NOQUEUE: reject:` / cleanup `reject:` / `milter-reject:` with a 5xx code (or none) | rejected | none |
| the same with a 4xx code (temporary: the client retries) | deferred | |
| `hold:` / `milter-hold:` (hold queue) | quarantined | quarantine |
| `discard:` / `milter-discard:` | dropped | none |
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from phishtrace.errors import InputError
from phishtrace.registry import Loader, Parsed, Reject, SourceFile
from phishtrace.timeparse import TimeParseError, parse_iso

MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}

_PROG = r"(?P<prog>[^\s\[\]:]+)(?:\[(?P<pid>\d+)\])?: (?P<msg>.*)"
RFC3164 = re.compile(
    r"^(?:<\d{1,3}>)?(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(?P<day>\d{1,2}) "
    r"(?P<hms>\d\d:\d\d:\d\d)(?:\.(?P<frac>\d+))? (?P<host>\S+) " + _PROG)
RFC3339 = re.compile(
    r"^(?:<\d{1,3}>)?(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) (?P<host>\S+) " + _PROG)
POSTFIX_PROG = re.compile(r"^postfix(?:-[^/\s]+)?(?:/[^/\s]+)*/(?P<service>[^/\s]+)$")
# short (hex) and long (enable_long_queue_ids: no vowels, 'z' separator) queue ids
QID = r"(?:NOQUEUE|[0-9A-F]{5,20}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{11,25})"
QMSG = re.compile(rf"^(?P<qid>{QID}): (?P<rest>.*)$")
BARE_START = re.compile(rf"^{QID}: (?:message-id=|from=<|to=<|removed$|client=|uid=|(?:milter-)?reject: )")

DELIVERY = re.compile(r"^to=<(?P<to>[^>]*)>,(?P<kv>.*?) status=(?P<status>[A-Za-z]+)(?: \((?P<text>.*)\))?$")
KV = re.compile(r"\s*(\w+)=(<[^>]*>|[^,]*),?")
QMGR_FROM = re.compile(r"^from=<(?P<from>[^>]*)>, (?:size=\d+, nrcpt=\d+|status=(?P<status>\w+)(?:, (?P<note>.*))?)")
PICKUP = re.compile(r"^uid=\d+ from=<(?P<from>[^>]*)>")
VERDICT = re.compile(r"^(?P<verb>reject|milter-reject|hold|milter-hold|discard|milter-discard): (?P<text>.*)$")
ENV_FROM = re.compile(r"\bfrom=<([^>]*)>")
ENV_TO = re.compile(r"\bto=<([^>]*)>")
CODE = re.compile(r"(?:^|[\s:])(?:[245]\d\d[ -])?(?P<dsn>[245]\.\d{1,3}\.\d{1,3})\b|(?:^|[\s:])(?P<code>[245]\d\d) ")
HANDOFF = re.compile(r"\b(?:queued as|forwarded as) (?P<id>[0-9A-Za-z]+)")
LOOPBACK = re.compile(r"^(?:localhost|[^\[\s]*)\[(?:127\.\d+\.\d+\.\d+|::1|ipv6:::1)\](?::\d+)?$", re.IGNORECASE)
DOVECOT_SAVE = re.compile(
    r"^(?:lmtp|lda|deliver)\((?P<user>[^)]+)\).*?: (?:sieve: )?msgid=(?P<mid>\S*?):? "
    r"(?:saved mail to (?P<f1>.+)|stored mail into mailbox '(?P<f2>[^']*)')$")


class _Msg:
    """One lifetime of a queue id: what cleanup / qmgr said about the message."""

    __slots__ = ("message_id", "sender", "handed_from", "handed_msg", "pending", "seen", "closed")

    def __init__(self) -> None:
        self.message_id: str | None = None
        self.sender: str | None = None
        self.handed_from: str | None = None
        self.handed_msg: _Msg | None = None
        self.pending: dict[str, str | None] = {}  # recipient still deferred -> its orig_to
        self.seen = False
        self.closed = False

    def resolved(self, attr: str) -> str | None:
        msg, hops = self, 0
        while msg is not None and hops < 10:
            value = getattr(msg, attr)
            if value is not None:
                return value
            msg, hops = msg.handed_msg, hops + 1
        return None


class _Clock:
    """Syslog stamps to UTC: the year for RFC 3164 lines (with Dec → Jan wrap) and a small cache."""

    def __init__(self, src: SourceFile):
        self.src = src
        self.year = src.year
        self.month: int | None = None
        self.cache: dict[tuple, datetime] = {}

    def rfc3164(self, line: int, m: re.Match) -> tuple[int, int, int]:
        """(year, month, day) of a line; raises InputError when --tz / --year are missing."""
        if self.month is None:
            self.require(line)
        month = MONTHS[m.group("mon")]
        year = self.year
        if self.month is None:
            self.month = month
        elif month < self.month - 6:
            self.year += 1
            year = self.year
            self.month = month
        elif month > self.month + 6:
            year -= 1
        else:
            self.month = month
        return year, month, int(m.group("day"))

    def require(self, line: int) -> None:
        missing = [(opt, what, hint) for opt, what, hint, val in (
            ("--year", "year", "the year of the file's first line", self.src.year),
            ("--tz", "time zone", "the host's zone, e.g. Europe/Paris", self.src.tz)) if val is None]
        if missing:
            raise InputError(self.src.path, line, "classic syslog time stamps carry no "
                             + " and no ".join(what for _, what, _ in missing) + ": give "
                             + " and ".join(f"{opt} ({hint})" for opt, _, hint in missing))

    def utc(self, ymd: tuple[int, int, int], m: re.Match) -> datetime:
        key = (ymd, m.group("hms"), m.group("frac"))
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        hh, mm, ss = (int(x) for x in m.group("hms").split(":"))
        micro = int((m.group("frac") + "000000")[:6]) if m.group("frac") else 0
        try:
            local = datetime(ymd[0], ymd[1], ymd[2], hh, mm, ss, micro, tzinfo=self.src.tz)
        except ValueError as exc:
            raise TimeParseError(f"invalid syslog time stamp: {exc}") from None
        if len(self.cache) > 50_000:
            self.cache.clear()
        value = self.cache[key] = local.astimezone(timezone.utc)
        return value


def _dsn_of(text: str) -> str | None:
    m = CODE.search(text)
    if not m:
        return None
    return m.group("dsn") or m.group("code")


class PostfixLog(Loader):
    name = "postfix_log"
    hop = "server"
    produces = "mail_events"
    recognised_by = "syslog lines from postfix/<service>[pid] (RFC 3164 or RFC 3339 stamps), or postfix message parts"
    columns = {
        "event_ts": "TIMESTAMPTZ",
        "log_time": "VARCHAR",
        "host": "VARCHAR",
        "program": "VARCHAR",
        "queue_id": "VARCHAR",
        "kind": "VARCHAR",
        "message_id": "VARCHAR",
        "sender": "VARCHAR",
        "recipient": "VARCHAR",
        "orig_to": "VARCHAR",
        "relay": "VARCHAR",
        "delay": "VARCHAR",
        "dsn": "VARCHAR",
        "status": "VARCHAR",
        "detail": "VARCHAR",
        "content_filter": "BOOLEAN",
        "next_queue_id": "VARCHAR",
        "handed_from": "VARCHAR",
        "folder": "VARCHAR",
    }

    # -- detection -------------------------------------------------------------------------------
    def sniff(self, head: bytes, text: str) -> bool:
        lines = [ln for ln in text.splitlines()[:200] if ln.strip()]
        if not lines:
            return False
        for ln in lines:
            m = RFC3164.match(ln) or RFC3339.match(ln)
            if m and POSTFIX_PROG.match(m.group("prog")):
                return True
        body = [ln for ln in lines if not ln.startswith("#")]
        return bool(body) and BARE_START.match(body[0]) is not None

    # -- reading ---------------------------------------------------------------------------------
    def parse(self, src: SourceFile) -> Parsed:
        reader = _Reader(src)
        for n, line in src.lines():
            reader.line(n, line)
        return reader.finish()


EMPTY_ROW = {col: None for col in PostfixLog.columns} | {"content_filter": False}


class _Reader:
    """Streaming state of one file: queue-id lifetimes, Dovecot folders, rows with their links."""

    def __init__(self, src: SourceFile):
        self.src = src
        self.clock = _Clock(src)
        self.bare_mode: bool | None = None
        self.queues: dict[tuple[str, str], _Msg] = {}
        self.saves: dict[tuple[str, str], str] = {}
        self.rows: list[dict[str, Any]] = []
        self.links: list[tuple[_Msg | None, _Msg | None]] = []
        self.rejects: list[Reject] = []
        self.ctx: dict[str, Any] = {}

    def line(self, n: int, line: str) -> None:
        if self.bare_mode is None:
            if not line.strip() or line.startswith("#"):
                return
            self.bare_mode = (RFC3164.match(line) is None and RFC3339.match(line) is None
                              and BARE_START.match(line) is not None)
        m3164 = RFC3164.match(line)
        m = m3164 or RFC3339.match(line)
        if m is None:
            if self.bare_mode:
                self.message(n, None, None, "", "", line.strip())
            return
        try:
            ymd = self.clock.rfc3164(n, m3164) if m3164 else None
            prog = m.group("prog")
            is_postfix = POSTFIX_PROG.match(prog) is not None
            if not is_postfix and prog != "dovecot":
                return
            stamp = self.clock.utc(ymd, m3164) if m3164 else parse_iso(m.group("ts"), naive_tz=self.src.tz)
        except TimeParseError as exc:
            if not m3164 and "no time zone" in str(exc):
                raise InputError(self.src.path, n, f"time stamp {m.group('ts')!r} carries no zone: give the "
                                                   "host's zone with --tz") from None
            self.rejects.append(Reject(n, str(exc)))
            return
        msg = m.group("msg").rstrip()
        if is_postfix:
            self.message(n, stamp, line[: m.start("host") - 1], m.group("host"), prog, msg)
            return
        save = DOVECOT_SAVE.match(msg)
        if save:
            folder = save.group("f1") or save.group("f2")
            self.saves[(save.group("user").strip().lower(), save.group("mid").strip("<>"))] = folder.strip()

    def add(self, life: _Msg | None, nxt: _Msg | None = None, **fields: Any) -> None:
        self.rows.append({**EMPTY_ROW, **self.ctx, **fields})
        self.links.append((life, nxt))

    def message(self, n: int, stamp, log_time, host: str, prog: str, msg: str) -> None:
        q = QMSG.match(msg)
        if q is None:
            return
        qid, rest = q.group("qid"), q.group("rest")
        self.ctx = {"source_row": n, "event_ts": stamp, "log_time": log_time or None, "host": host or None,
                    "program": prog or None, "queue_id": None if qid == "NOQUEUE" else qid}
        verdict = VERDICT.match(rest)
        if qid == "NOQUEUE":
            if verdict:
                self.verdict(verdict, None)
            return
        key = (host, qid)
        life = self.queues.get(key)
        if life is None or life.closed:
            life = self.queues[key] = _Msg()
        if rest.startswith("to=<"):
            self.delivery(n, host, qid, life, rest)
        elif rest.startswith("message-id="):
            if life.message_id is not None:  # a second cleanup line: the queue id was reused
                life = self.queues[key] = _Msg()
            life.message_id = rest[len("message-id="):].strip()
            life.seen = True
        elif rest.startswith(("client=", "uid=")):
            if life.seen:  # a new message under a reused queue id
                life = self.queues[key] = _Msg()
            life.seen = True
            p = PICKUP.match(rest)
            if p:
                life.sender = p.group("from")
        elif rest == "removed":
            life.closed = True
        elif (f := QMGR_FROM.match(rest)) is not None:
            life.seen = True
            life.sender = f.group("from")
            if (f.group("status") or "").lower() == "expired":
                for recipient, orig_to in life.pending.items() or [(None, None)]:
                    self.add(life, kind="expired", recipient=recipient, orig_to=orig_to, sender=f.group("from"),
                             status=f.group("status"), detail=f.group("note"))
                life.pending = {}
        elif verdict:
            life.seen = True
            self.verdict(verdict, life)

    def delivery(self, n: int, host: str, qid: str, life: _Msg, rest: str) -> None:
        d = DELIVERY.match(rest)
        if d is None:
            self.rejects.append(Reject(n, "unreadable delivery line: expected to=<…>, relay=…, dsn=…, status=…"))
            return
        kv = dict(KV.findall(d.group("kv")))
        status, text, recipient = d.group("status"), d.group("text"), d.group("to")
        orig_to = kv.get("orig_to", "").strip("<>") or None
        relay = kv.get("relay", "").strip() or None
        hand = HANDOFF.search(text) if status == "sent" and text else None
        loop = bool(relay and LOOPBACK.match(relay))
        next_id = hand.group("id") if hand and (loop or text.lstrip().startswith("forwarded as")) else None
        life.seen = True
        if status.lower() in ("deferred", "softbounce"):
            life.pending.setdefault(recipient, orig_to)
        else:
            life.pending.pop(recipient, None)
        nxt = None
        if next_id:
            nxt = self.queues.get((host, next_id))
            if nxt is None or nxt.closed:
                nxt = self.queues[(host, next_id)] = _Msg()
            nxt.handed_from, nxt.handed_msg = qid, life
        self.add(life, nxt, kind="delivery", recipient=recipient or None,
                 orig_to=orig_to, relay=relay, delay=kv.get("delay") or None,
                 dsn=kv.get("dsn") or None, status=status, detail=text, content_filter=bool(next_id) and loop,
                 next_queue_id=next_id)

    def verdict(self, m: re.Match, life: _Msg | None) -> None:
        verb, text = m.group("verb"), m.group("text")
        envelope = text[max(text.rfind("; from=<"), 0):]
        sender, recipient = ENV_FROM.search(envelope), ENV_TO.search(envelope)
        self.add(life, kind=verb, status=verb, detail=text, sender=sender.group(1) if sender else None,
                 recipient=(recipient.group(1) or None) if recipient else None, dsn=_dsn_of(text))

    def finish(self) -> Parsed:
        """Fill Message-ID and sender from the linked lifetimes, and Dovecot folders."""
        for row, (msg, nxt) in zip(self.rows, self.links):
            for attr in ("message_id", "sender"):
                if row[attr] is None and msg is not None:
                    row[attr] = msg.resolved(attr)
                if row[attr] is None and nxt is not None:  # a hand-off row learns it from the new queue id
                    row[attr] = getattr(nxt, attr)
            if msg is not None:
                row["handed_from"] = msg.handed_from
            if row["kind"] == "delivery" and row["status"] == "sent" and not row["next_queue_id"] \
                    and row["message_id"] and row["recipient"]:
                mid = row["message_id"].strip().strip("<>")
                rcpt = row["recipient"].lower()
                row["folder"] = self.saves.get((rcpt, mid)) or self.saves.get((rcpt.split("@")[0], mid))
        return Parsed(rows=self.rows, rejects=self.rejects)
