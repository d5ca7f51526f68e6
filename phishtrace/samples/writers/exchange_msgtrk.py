"""Exchange Server 2019 message tracking log, MSGTRK<yyyymmdd>-1.LOG (formats.md §3.4): UTF-8 with BOM,
CRLF, the W3C header with the 30-field `#Fields:` line, RFC 4180 quoting (source-context holds commas),
`date-time` in UTC with milliseconds and `Z`.

Rows per simulation message (mapping of sql/10_staging/stg_exchange_msgtrk.sql):
* RECEIVE (SMTP, from the platform) and AGENTINFO (agents' custom-data) -> received; AGENTINFO
  custom-data decides a verdict: `S:SFA=...|DI=SJ` junked, `DI=SQ` quarantined, `DI=SD` dropped
  (deleted), `S:TRA=ETR|...|action=DeleteMessage` (mode Enforce) dropped; a transport rule in Audit
  mode is not a verdict;
* DELIVER (STOREDRIVER) -> delivered; DEFER -> deferred (a retry later DELIVERs, or nothing follows);
  DROP -> dropped; FAIL -> bounced, followed by the DSN row of the NDR to the sender (not the
  recipient's event); SEND over the "Outbound to Office 365" connector -> relayed (external).
When the profile's log ends early, rows after ctx.trace_end are not in the file. Other mail (other
senders, internal mail to several recipients in one row) is interleaved before and between the runs.
"""

from __future__ import annotations

import csv
import io
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from phishtrace.samples.model import MessagePlan, Obs
from phishtrace.samples.profiles import CustomerContext
from phishtrace.samples.writers import Writer
from phishtrace.samples.writers._fmt import rint
from phishtrace.samples.writers._hops import NOISE_SENDERS, NOISE_SUBJECTS, extra, frac, in_log, noise_times, pick

FIELDS = (
    "date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,"
    "internal-message-id,message-id,network-message-id,recipient-address,recipient-status,total-bytes,"
    "recipient-count,related-recipient-address,reference,message-subject,sender-address,return-path,message-info,"
    "directionality,tenant-id,original-client-ip,original-server-ip,custom-data,transport-traffic-type,log-id,"
    "schema-version"
).split(",")
PLATFORM = ("192.0.2.25", "mta1.phishsim-mailer.example")
MS = timedelta(milliseconds=1)
SFA = ("S:SFA=SUM|SFV=SPM|IPR=|SRV=|SFS=|SCL={scl}|SCORE=-|LIST=0|DI={di}|RD=mta1.phishsim-mailer.example|H=mta1|"
       "CIP=192.0.2.25|SFP=1501")
NORMAL = "S:AMA=SUM|action=p|error=|atch=0;S:CompCost=|ETR=0;S:DeliveryPriority=Normal"
AUDIT_RULE = "S:TRA=ETR|ruleId={rule}|st={st}|action=DeleteMessage|sev=1|mode=Audit;S:DeliveryPriority=Normal"
DELETE_RULE = "S:TRA=ETR|ruleId={rule}|st={st}|action=DeleteMessage|sev=1|mode=Enforce;S:DeliveryPriority=Normal"
# AGENTINFO custom-data kind -> (action, location) of the row
AGENT = {"normal": ("received", None), "audit": ("received", None), "sj": ("junked", "junk"),
         "sq": ("quarantined", "quarantine"), "sd": ("dropped", "deleted"), "tra_delete": ("dropped", "deleted")}
EVENT = {"RECEIVE": ("received", None), "DELIVER": ("delivered", "inbox"), "DEFER": ("deferred", None),
         "DROP": ("dropped", "none"), "FAIL": ("bounced", None), "SEND": ("relayed", "external")}
STATUS = {
    "DEFER": '451 4.4.0 Primary target IP address responded with: "421 4.3.2 Service not available." Attempted '
             "failover to alternate host, but that did not succeed.",
    "FAIL": "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found",
    "DROP": "550 5.7.1 Message rejected as spam by Content Filtering.",
    "SEND": "250 2.6.0 <{mid}> [InternalId=1571958] Queued mail for delivery",
    "DELIVER": "250 2.1.5 Recipient OK",
}


@dataclass(frozen=True)
class Row:
    ts: datetime
    event: str
    agent: str = ""  # AGENTINFO custom-data kind


def ms_floor(ts: datetime) -> datetime:
    return ts.replace(microsecond=ts.microsecond // 1000 * 1000)


def rows_of(plan: MessagePlan) -> list[Row]:
    """The plan's tracking rows (recipient = the learner), before the log's end is applied."""
    s = plan.server
    if s is None or plan.filter is not None:
        return []
    t, retry = s.ts, extra(plan, "retry_ts")
    first = retry or t
    agent = {"junked": "sj", "quarantined": "sq"}.get(s.verdict, "normal")
    if s.verdict == "failed":
        agent = pick(plan, "drop_kind", ("sd", "tra_delete", "normal"))
    elif s.verdict == "delivered" and pick(plan, "audit_rule", (True, False, False, False)):
        agent = "audit"
    out = [Row(first, "RECEIVE"), Row(first + 40 * MS, "AGENTINFO", agent)]
    if retry is not None:
        out.append(Row(retry + 800 * MS, "DEFER"))
    if s.verdict in ("delivered", "junked"):
        out.append(Row(t + 600 * MS, "DELIVER"))
    elif s.verdict == "failed" and agent == "normal":
        out.append(Row(t + 300 * MS, "DROP"))
    elif s.verdict == "rejected":
        out.append(Row(t + 200 * MS, "FAIL"))
    elif s.verdict == "pending":
        gap = timedelta(minutes=5 + 3 * frac(plan, "defer_gap"))
        out += [Row(t + 800 * MS + i * gap, "DEFER") for i in range(3)]
    elif s.verdict == "relayed":
        out.append(Row(t + 500 * MS, "SEND"))
    return [Row(ms_floor(r.ts), r.event, r.agent) for r in out]


def action_of(row: Row) -> tuple[str, str | None]:
    return AGENT[row.agent] if row.event == "AGENTINFO" else EVENT[row.event]


class ExchangeMsgtrk(Writer):
    format = "exchange_msgtrk"

    def filename(self, ctx: CustomerContext) -> str:
        return f"MSGTRK{ctx.trace_start:%Y%m%d}-1.LOG"

    def observe(self, plan: MessagePlan, ctx: CustomerContext) -> list[Obs]:
        out = []
        for row in rows_of(plan):
            if in_log(row.ts, ctx):
                action, location = action_of(row)
                out.append(Obs("server", "server", action, row.ts, location))
        return out

    def write(self, path: Path, plans: list[MessagePlan], ctx: CustomerContext) -> bool:
        rng = random.Random(f"{ctx.seed}:{ctx.name}:{self.format}")
        version = str(ctx.profile.option("msgtrk_version", "15.02.1544.004"))
        domain = ctx.profile.domain
        lines: list[tuple[datetime, int, dict]] = []
        internal = iter(range(rint(rng, 10**12, 9 * 10**12), 10**14, 3))
        for p in plans:
            rows = [r for r in rows_of(p) if in_log(r.ts, ctx)]
            if not rows:
                continue
            s = p.server
            assert s is not None and p.sent_at is not None
            session = f"08DD{rng.getrandbits(48):012X}"
            size = rint(rng, 14000, 48000)
            msg_internal = next(internal)
            for row in rows:
                rec = self._base(row, p.email, p.sender, p.subject, f"<{p.message_id}>", s.network_id, size,
                                 msg_internal, session, version, rng)
                rec["message-info"] = f"{p.sent_at:%Y-%m-%dT%H:%M:%S}.000Z" if row.event in ("DELIVER", "SEND") else ""
                if row.event == "AGENTINFO":
                    rule = uuid.UUID(int=rng.getrandbits(128))
                    st = f"{row.ts:%m/%d/%Y %I:%M:%S %p}"
                    rec["custom-data"] = {
                        "normal": NORMAL, "audit": AUDIT_RULE.format(rule=rule, st=st),
                        "tra_delete": DELETE_RULE.format(rule=rule, st=st),
                        "sj": SFA.format(scl=6, di="SJ"), "sq": SFA.format(scl=9, di="SQ"),
                        "sd": SFA.format(scl=9, di="SD"),
                    }[row.agent]
                lines.append((row.ts, len(lines), rec))
                if row.event == "FAIL":  # the NDR to the sender, in the same millisecond
                    ndr = self._base(Row(row.ts, "DSN"), p.sender, "", f"Undeliverable: {p.subject}",
                                     f"<{uuid.UUID(int=rng.getrandbits(128))}@EX01.{domain}>",
                                     str(uuid.UUID(int=rng.getrandbits(128))), size + 4000, next(internal), session,
                                     version, rng)
                    ndr["related-recipient-address"] = p.email
                    ndr["recipient-status"] = STATUS["FAIL"]
                    lines.append((row.ts, len(lines), ndr))
        if not lines:
            return False
        learners = [l.email for l in ctx.learners]
        for i, ts in enumerate(noise_times(plans, ctx, rng, max(10, len(lines) // 8))):
            sender = NOISE_SENDERS[i % len(NOISE_SENDERS)] if i % 3 else learners[i % len(learners)].lower()
            rcpts = [rng.choice(learners)] if i % 3 else rng.sample(learners, min(3, len(learners)))
            mid = f"<{rng.getrandbits(64):016x}@{sender.split('@')[1]}>"
            nid, size = str(uuid.UUID(int=rng.getrandbits(128))), rint(rng, 3000, 90000)
            session = f"08DD{rng.getrandbits(48):012X}"
            internal_id = next(internal)
            for event, dt in (("RECEIVE", 0), ("DELIVER", 700)):
                rec = self._base(Row(ms_floor(ts + dt * MS), event), ";".join(rcpts), sender,
                                 NOISE_SUBJECTS[i % len(NOISE_SUBJECTS)], mid, nid, size, internal_id, session,
                                 version, rng)
                rec["recipient-status"] = ";".join("To" if event == "RECEIVE" else STATUS["DELIVER"] for _ in rcpts)
                rec["recipient-count"] = str(len(rcpts))
                if i % 3 == 0:  # internal mail submitted from a mailbox
                    rec["directionality"] = "Originating"
                    if event == "RECEIVE":
                        rec.update({"source": "STOREDRIVER", "client-ip": "", "client-hostname": "EX02",
                                    "connector-id": "", "original-client-ip": ""})
                lines.append((ms_floor(ts + dt * MS), len(lines), rec))
        lines.sort(key=lambda r: (r[0], r[1]))
        first = min(ts for ts, _, _ in lines)
        buf = io.StringIO()
        buf.write("#Software: Microsoft Exchange Server\r\n")
        buf.write(f"#Version: {version}\r\n#Log-type: Message Tracking Log\r\n")
        buf.write(f"#Date: {first:%Y-%m-%dT%H:%M:%S}.{first.microsecond // 1000:03d}Z\r\n")
        buf.write("#Fields: " + ",".join(FIELDS) + "\r\n")
        out = csv.writer(buf, lineterminator="\r\n")
        for _, _, rec in lines:
            out.writerow([rec.get(f, "") for f in FIELDS])
        path.write_text("\ufeff" + buf.getvalue(), encoding="utf-8", newline="")
        return True

    @staticmethod
    def _base(row: Row, rcpt: str, sender: str, subject: str, mid: str, nid: str, size: int, internal: int,
              session: str, version: str, rng: random.Random) -> dict:
        ts = f"{row.ts:%Y-%m-%dT%H:%M:%S}.{row.ts.microsecond // 1000:03d}Z"
        rec = {
            "date-time": ts, "event-id": row.event, "internal-message-id": str(internal), "message-id": mid,
            "network-message-id": nid, "recipient-address": rcpt, "total-bytes": str(size), "recipient-count": "1",
            "message-subject": subject, "sender-address": sender, "return-path": sender, "directionality": "Incoming",
            "transport-traffic-type": "Email", "log-id": str(uuid.UUID(int=rng.getrandbits(128))),
            "schema-version": version, "server-hostname": "EX01",
        }
        if row.event == "RECEIVE":
            rec.update({"client-ip": PLATFORM[0], "client-hostname": PLATFORM[1], "server-ip": "10.20.0.11",
                        "source-context": f"{session};{ts};0", "connector-id": "EX01\\Default Frontend EX01",
                        "source": "SMTP", "recipient-status": "To", "original-client-ip": PLATFORM[0],
                        "original-server-ip": "10.20.0.11",
                        "custom-data": "S:FirstForestHop=EX01;S:FromEntity=Internet;S:DeliveryPriority=Normal"})
        elif row.event == "AGENTINFO":
            rec.update({"source": "AGENT", "source-context": "CFA"})
        elif row.event == "DELIVER":
            rec.update({"server-hostname": "EX02", "server-ip": "10.20.0.12", "source": "STOREDRIVER",
                        "source-context": (f"MDB:{uuid.UUID(int=rng.getrandbits(128))}, Mailbox:"
                                           f"{uuid.UUID(int=rng.getrandbits(128))}, Event:{rint(rng, 10**6, 10**8)}, "
                                           f"MessageClass:IPM.Note, CreationTime:{ts}, ClientType:StoreDriver"),
                        "recipient-status": STATUS["DELIVER"],
                        "custom-data": "S:Mailboxes=1;S:DatabaseHealth=-1;S:DeliveryLatency=0.6"})
        elif row.event in ("DEFER", "DROP", "FAIL"):
            rec.update({"source": "AGENT" if row.event == "DROP" else "ROUTING" if row.event == "FAIL" else "QUEUE",
                        "recipient-status": STATUS[row.event],
                        "connector-id": "" if row.event == "DROP" else "EX02\\Default EX02"})
        elif row.event == "SEND":
            rec.update({"source": "SMTP", "connector-id": "Outbound to Office 365", "server-ip": "10.20.0.11",
                        "client-hostname": "EX01", "recipient-status": STATUS["SEND"].format(mid=mid.strip("<>"))})
        elif row.event == "DSN":
            rec.update({"source": "DSN", "directionality": "Originating"})
        return rec


WRITER = ExchangeMsgtrk()
