"""Gmail logs in BigQuery (formats.md §3.5.1), one row per event, JSON lines.

Two shapes, by the seed's parity: an even seed writes BigQuery REST rows (`{"row": {"f": [{"v": …}]},
"schema": {...}}` per line, all scalars as strings, like the Elastic fixture); an odd seed writes the
NDJSON export of the same table (nested `event_info` / `message_info`, INT64 as strings, booleans as
JSON booleans). `event_info.timestamp_usec` is epoch microseconds.

Rows per message (mapping of phishtrace/loaders/gmail.py):
* delivery: `mail_event_type` 2 with destination service `gmail-ui` -> delivered (server); with
  `is_spam` true -> junked; `success` false (550) -> rejected; destination `smtp-outbound` (a route to
  another server) -> relayed;
* quarantine: type 5 -> quarantined; type 6 later -> released (server: the quarantine verdict is undone);
* after delivery: type 4 (Gmail flagged it as spam) -> junked (server); type 12 (moved to Inbox) ->
  delivered (mailbox); type 13 (moved to Trash, a filter's 'delete it' seconds after delivery) ->
  moved_by_rule (mailbox).
Other mail to the same users (other senders) is interleaved before and between the runs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

from phishtrace.samples.model import MessagePlan, Obs
from phishtrace.samples.profiles import CustomerContext
from phishtrace.samples.writers import Writer
from phishtrace.samples.writers._fmt import rint
from phishtrace.samples.writers._hops import NOISE_SENDERS, NOISE_SUBJECTS, extra, frac, noise_times

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
PLATFORM_IP = "192.0.2.25"
LOCATION = {"quarantined": "quarantine", "junked": "junk", "delivered": "inbox", "moved_by_rule": "deleted",
            "relayed": "external", "rejected": "none"}
# (name, type, mode, subfields) of the table's columns that are written
SCHEMA = (
    ("event_info", "RECORD", "NULLABLE", (
        ("elapsed_time_usec", "INTEGER"), ("mail_event_type", "INTEGER"), ("success", "BOOLEAN"),
        ("timestamp_usec", "INTEGER"))),
    ("message_info", "RECORD", "NULLABLE", (
        ("action_type", "INTEGER"),
        ("connection_info", "RECORD", "NULLABLE", (
            ("client_ip", "STRING"), ("dkim_pass", "BOOLEAN"), ("dmarc_pass", "BOOLEAN"),
            ("smtp_reply_code", "INTEGER"), ("smtp_response_reason", "STRING"), ("spf_pass", "BOOLEAN"))),
        ("destination", "RECORD", "REPEATED", (
            ("address", "STRING"), ("rcpt_response", "STRING"), ("selector", "STRING"), ("service", "STRING"))),
        ("flattened_destinations", "STRING"),
        ("is_spam", "BOOLEAN"),
        ("num_message_attachments", "INTEGER"),
        ("payload_size", "INTEGER"),
        ("rfc2822_message_id", "STRING"),
        ("source", "RECORD", "NULLABLE", (
            ("address", "STRING"), ("from_header_address", "STRING"), ("from_header_displayname", "STRING"),
            ("service", "STRING"))),
        ("spam_info", "RECORD", "NULLABLE", (("classification_reason", "STRING"), ("disposition", "STRING"))),
        ("subject", "STRING"))),
)


@dataclass(frozen=True)
class Ev:
    ts: datetime
    met: int  # event_info.mail_event_type
    service: str = "gmail-ui"
    success: bool = True
    spam: bool = False


def action_of(ev: Ev) -> tuple[str, str]:
    """(action, verdict_hop) as stg_gmail_bigquery_json maps the row."""
    fixed = {5: "quarantined", 6: "released", 4: "junked", 12: "delivered", 13: "moved_by_rule"}
    if ev.met in fixed:
        return fixed[ev.met], "mailbox" if ev.met in (12, 13) else "server"
    if ev.met not in (0, 2):
        return "received", "server"
    if not ev.success:
        return "rejected", "server"
    if ev.spam or "spam" in ev.service:
        return "junked", "server"
    if ev.service == "gmail-ui":
        return "delivered", "server"
    return ("relayed" if ev.service.startswith("smtp-outbound") else "received"), "server"


def events(plan: MessagePlan) -> list[Ev]:
    s = plan.server
    if s is None or plan.filter is not None:
        return []
    t, undo = s.ts, extra(plan, "undo_ts")
    if s.verdict == "delivered":
        out = [Ev(t, 2)]
        if s.moved_by_rule:
            out.append(Ev(t + timedelta(seconds=1 + 3 * frac(plan, "trash")), 13))
        return out
    if s.verdict == "junked":
        out = [Ev(t, 2, spam=True)] if s.spam_as_filtered else [
            Ev(t, 2), Ev(t + timedelta(minutes=5 + 115 * frac(plan, "late_spam")), 4, spam=True)]
        return out + ([Ev(undo, 12)] if undo else [])
    if s.verdict == "quarantined":
        return [Ev(t, 5)] + ([Ev(undo, 6)] if undo else [])
    if s.verdict == "rejected":
        return [Ev(t, 2, success=False)]
    if s.verdict == "relayed":
        return [Ev(t, 2, service="smtp-outbound")]
    return []  # failed / pending: Gmail logs have no such row (the profile does not plant them)


def usec(ts: datetime) -> int:
    return (ts - EPOCH) // timedelta(microseconds=1)


class GmailBigQueryJson(Writer):
    format = "gmail_bigquery_json"

    def filename(self, ctx: CustomerContext) -> str:
        return "gmail_logs.json"

    def observe(self, plan: MessagePlan, ctx: CustomerContext) -> list[Obs]:
        out = []
        for ev in events(plan):
            action, verdict_hop = action_of(ev)
            out.append(Obs("server", verdict_hop, action, ev.ts, LOCATION.get(action)))
        return out

    def write(self, path: Path, plans: list[MessagePlan], ctx: CustomerContext) -> bool:
        rng = random.Random(f"{ctx.seed}:{ctx.name}:{self.format}")
        rows: list[tuple[datetime, dict]] = []
        for p in plans:
            size = rint(rng, 9000, 42000)
            for ev in events(p):
                rows.append((ev.ts, self._record(ev, p.sender, "Shared Drive", p.recipient, p.subject,
                                                 f"<{p.message_id}>", size, rng)))
        if not rows:
            return False
        learners = [l.address for l in ctx.learners]
        for i, ts in enumerate(noise_times(plans, ctx, rng, max(8, len(rows) // 5))):
            sender = NOISE_SENDERS[i % len(NOISE_SENDERS)]
            mid = f"<{rng.getrandbits(64):016x}@{sender.split('@')[1]}>"
            rows.append((ts, self._record(Ev(ts, 2), sender, "Notifications", rng.choice(learners),
                                          NOISE_SUBJECTS[i % len(NOISE_SUBJECTS)], mid, rint(rng, 3000, 90000), rng)))
        rows.sort(key=lambda r: r[0])
        rest = ctx.seed % 2 == 0
        schema = {"fields": [_schema_field(f) for f in SCHEMA]}
        out = [orjson.dumps({"row": _encode(rec, SCHEMA), "schema": schema} if rest else rec) for _, rec in rows]
        path.write_bytes(b"\n".join(out) + b"\n")
        return True

    @staticmethod
    def _record(ev: Ev, sender: str, display: str, rcpt: str, subject: str, msgid: str, size: int,
                rng: random.Random) -> dict:
        delivery = ev.met in (0, 2)
        msg: dict = {
            "rfc2822_message_id": msgid, "subject": subject, "payload_size": str(size),
            "num_message_attachments": "0",
            "source": {"address": sender, "from_header_address": sender, "from_header_displayname": display,
                       "service": "smtp-inbound" if delivery else "gmail-ui"},
            "destination": [{"address": rcpt, "service": ev.service, "rcpt_response": "1", "selector": ""}],
            "flattened_destinations": f"{ev.service}::{rcpt}",
            "is_spam": ev.spam,
        }
        if delivery:
            msg["action_type"] = "1"
            code, reason = ("250", "2.0.0 OK") if ev.success else (
                "550", "5.1.1 The email account that you tried to reach does not exist")
            msg["connection_info"] = {"client_ip": PLATFORM_IP, "smtp_reply_code": code,
                                      "smtp_response_reason": reason, "spf_pass": True, "dkim_pass": True,
                                      "dmarc_pass": True}
        if ev.spam:
            msg["spam_info"] = {"classification_reason": "The message contains one or more suspicious links.",
                                "disposition": "1"}
        return {"event_info": {"timestamp_usec": str(usec(ev.ts)), "elapsed_time_usec": str(rint(rng, 20000, 900000)),
                               "success": ev.success, "mail_event_type": str(ev.met)},
                "message_info": msg}


def _schema_field(spec: tuple) -> dict:
    name, typ = spec[0], spec[1]
    mode = spec[2] if len(spec) > 2 else "NULLABLE"
    out: dict = {"mode": mode, "name": name, "type": typ}
    if typ == "RECORD":
        out = {"fields": [_schema_field(f) for f in spec[3]], **out}
    return out


def _scalar(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _encode(rec: dict | None, fields: tuple) -> dict | None:
    """A nested record as a REST `{"f": [{"v": …}]}` cell list following the schema."""
    if rec is None:
        return None
    cells = []
    for spec in fields:
        name, typ = spec[0], spec[1]
        mode = spec[2] if len(spec) > 2 else "NULLABLE"
        value = rec.get(name)
        if mode == "REPEATED":
            items = value or []
            cells.append({"v": [{"v": _encode(i, spec[3]) if typ == "RECORD" else _scalar(i)} for i in items]})
        elif typ == "RECORD":
            cells.append({"v": _encode(value, spec[3])})
        else:
            cells.append({"v": _scalar(value)})
    return {"f": cells}


WRITER = GmailBigQueryJson()
