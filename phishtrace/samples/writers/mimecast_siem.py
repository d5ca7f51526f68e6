"""Mimecast legacy SIEM v1 logs (formats.md §2.2.1), one file per log type as Mimecast's SIEM download
gives them: receipt, process, delivery and TTP URL logs. Shape (profile option `mimecast_shape`):
`kv` = pipe-delimited key=value lines with free text wrapped in backslashes (`Subject=\\…\\`), or `json` =
one JSON record per line (the keys of elastic's test-siem-docs-logs.log). `datetime` carries the offset
without a colon (+0100), to the second. Process lines carry no recipient (they join receipt lines on aCode).

Per message (docs/architecture.md, stg_mimecast_siem.sql):
* receipt `Act=Acc` -> received; `Act=Rej` (before DATA: no MsgId, no Subject) -> rejected; `Act=Ign` -> dropped;
* process `Act=Acc` -> passed; `Act=Hld` with the hold reason (`Hld=Spm` bulk, `Url` phish, `Oth` policy)
  -> quarantined; `Act=Rty` (then a failed delivery) / `Act=Sdbx` (sandbox hold) -> deferred;
* delivery `Delivered=True` -> relayed; `Delivered=False` with `Err=\\550 …\\` -> bounced (the server's
  verdict), with `Err=\\421 …\\` -> deferred. A released hold shows only the later delivery (the release
  itself is not in these logs);
* TTP URL log: the recipients' clicks on messages it passed: no action -> clicked, `action=Block` ->
  clicked_blocked (the URL with the GoPhish rid when the platform is GoPhish). No click address or user
  agent (the record's `sourceIp` is the original message's source).
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

from phishtrace.samples.model import MessagePlan, Obs
from phishtrace.samples.profiles import CustomerContext
from phishtrace.samples.writers import Writer
from phishtrace.samples.writers._fmt import floor_second, rint
from phishtrace.samples.writers._platforms import landing_url

ZONE = timezone(timedelta(hours=1))  # the account's UK summer time, as in Mimecast's samples (+0100)
LOGS = ("receipt", "process", "delivery", "ttp_url")
HOLD = {"Phish": "Url", "Bulk": "Spm", "Policy": "Oth"}
REFUSED = "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"
DEFERRED = "421 4.4.2 Connection dropped due to SocketError"
PLATFORM_IP = "192.0.2.25"


class Step(NamedTuple):
    log: str  # receipt | process | delivery | ttp_url
    ts: datetime
    act: str  # Acc Rej Ign | Acc Hld Rty Sdbx | true false | click Block
    obs: Obs


def steps(p: MessagePlan) -> list[Step]:
    """The log lines a message gets, in order, with the event each one stages to."""
    f = p.filter
    if f is None:
        return []
    r = floor_second(f.ts)
    if f.verdict == "rejected":
        return [Step("receipt", r, "Rej", Obs("filter", "filter", "rejected", r))]
    if f.verdict == "dropped":
        return [Step("receipt", r, "Ign", Obs("filter", "filter", "dropped", r, "none"))]
    out = [Step("receipt", r, "Acc", Obs("filter", "filter", "received", r))]
    if f.verdict == "quarantined":
        out.append(Step("process", r, "Hld", Obs("filter", "filter", "quarantined", r, "quarantine")))
    elif f.verdict == "deferred":
        act = "Rty" if f.handoff == "deferred" else "Sdbx"
        out.append(Step("process", r, act, Obs("filter", "filter", "deferred", r)))
    else:
        out.append(Step("process", r, "Acc", Obs("filter", "filter", "passed", r)))
    if f.handoff is not None:
        assert f.handoff_ts is not None
        d = floor_second(f.handoff_ts)
        if f.handoff == "sent":
            out.append(Step("delivery", d, "true", Obs("filter", "filter", "relayed", d, "external")))
        elif f.handoff == "refused":
            out.append(Step("delivery", d, "false", Obs("filter", "server", "bounced", d)))
        else:
            out.append(Step("delivery", d, "false", Obs("filter", "filter", "deferred", d)))
    if f.verdict == "passed" or f.released_ts is not None:
        for i in p.interactions:
            if i.kind == "clicked":
                c = floor_second(i.ts)
                out.append(Step("ttp_url", c, "click", Obs("filter", "filter", "clicked", c)))
        for i in f.blocked_clicks:
            c = floor_second(i.ts)
            out.append(Step("ttp_url", c, "Block", Obs("filter", "filter", "clicked_blocked", c)))
    return out


def acode(p: MessagePlan) -> str:
    """Mimecast's per-message tracking id (22 characters of URL-safe base64)."""
    digest = hashlib.md5(f"{p.customer}|{p.message_id}|{p.recipient}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:22]


def mc_time(dt: datetime) -> str:
    return dt.astimezone(ZONE).strftime("%Y-%m-%dT%H:%M:%S%z")


def kv_line(fields: dict[str, object]) -> str:
    parts = []
    for key, value in fields.items():
        if isinstance(value, dict):
            value = json.dumps(value, separators=(",", ":"))
        elif isinstance(value, bool):
            value = "True" if value else "False"
        text = "" if value is None else str(value)
        free = isinstance(value, str) and (" " in text or key in ("Subject", "RejInfo", "RejType", "Err"))
        parts.append(f"{key}=\\{text}\\" if free else f"{key}={text}")
    return "|".join(parts)


class MimecastSiem(Writer):
    format = "mimecast_siem"

    def filename(self, ctx: CustomerContext) -> str:
        return f"mimecast_receipt.{self._ext(ctx)}"

    @staticmethod
    def _ext(ctx: CustomerContext) -> str:
        return "json" if ctx.profile.option("mimecast_shape", "kv") == "json" else "log"

    def observe(self, plan: MessagePlan, ctx: CustomerContext) -> list[Obs]:
        return [s.obs for s in steps(plan)]

    def write(self, path: Path, plans: list[MessagePlan], ctx: CustomerContext) -> bool:
        """One file per log type next to `path` (the receipt log)."""
        rng = random.Random(f"{ctx.seed}:{ctx.name}:{self.format}")
        shape = ctx.profile.option("mimecast_shape", "kv")
        gophish = ctx.profile.platform[0].startswith("gophish")
        mx_ip = f"52.101.{rint(rng, 0, 255)}.{rint(rng, 1, 254)}"
        lines: dict[str, list[tuple[datetime, int, str]]] = {log: [] for log in LOGS}
        for n, p in enumerate(plans):
            for s in steps(p):
                fields = self._fields(s, p, ctx, rng, mx_ip, gophish)
                if shape == "json":  # keys in ASCII order, as in elastic's fixture
                    text = json.dumps(fields, separators=(",", ":"), sort_keys=True)
                else:  # datetime, aCode, acc first, as in Mimecast's key=value sample
                    lead = {k: fields.pop(k) for k in ("datetime", "aCode", "acc") if k in fields}
                    text = kv_line({**lead, **fields})
                lines[s.log].append((s.ts, n, text))
        if not any(lines.values()):
            return False
        for log, rows in lines.items():
            if rows or log == "receipt":
                rows.sort(key=lambda r: (r[0], r[1]))
                target = path.parent / f"mimecast_{log}.{self._ext(ctx)}"
                target.write_text("".join(text + "\n" for _, _, text in rows), encoding="utf-8")
        return True

    @staticmethod
    def _fields(s: Step, p: MessagePlan, ctx: CustomerContext, rng: random.Random, mx_ip: str,
                gophish: bool) -> dict[str, object]:
        f = p.filter
        assert f is not None
        head: dict[str, object] = {"datetime": mc_time(s.ts), "aCode": acode(p), "acc": "C0A0"}
        msgid = f"<{p.message_id}>"
        if s.log == "receipt":
            fields = {**head, "SpamLimit": 0, "IP": PLATFORM_IP, "Dir": "Inbound"}
            if s.act != "Rej":
                fields.update({"MsgId": msgid, "Subject": p.subject, "headerFrom": p.sender})
            fields.update({"Sender": p.sender, "Rcpt": p.recipient, "SpamInfo": "[]", "Act": s.act,
                           "TlsVer": "TLSv1.3", "Cphr": "TLS_AES_256_GCM_SHA384"})
            if s.act == "Rej":
                fields.update({"RejType": "Message Rejected by Policy", "RejCode": "550",
                               "RejInfo": "Envelope rejected by the inbound policy for the sender domain"})
            else:
                fields.update({"SpamProcessingDetail": {"spf": {"info": "SPF_PASS", "allow": True},
                                                        "dkim": {"info": "DKIM_PASS", "allow": True}},
                               "SpamScore": rint(rng, 0, 3)})
            return fields
        if s.log == "process":
            fields = {"Act": s.act, "AttCnt": 0, "AttNames": "", "AttSize": 0}
            if s.act == "Hld":
                fields["Hld"] = HOLD.get(f.folder or "", "Spm")
            fields.update({"MsgId": msgid, "MsgSize": rint(rng, 9000, 42000), **head})
            return fields
        if s.log == "delivery":
            fields = {"AttCnt": 0, "AttSize": 0, "Attempt": 1 if s.act == "true" else rint(rng, 2, 6),
                      "Cphr": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "Delivered": s.act == "true",
                      "Dir": "Inbound", "IP": mx_ip, "Latency": rint(rng, 800, 9000), "MsgId": msgid,
                      "Rcpt": p.recipient}
            if s.act == "true":
                internal = rint(rng, 10**10, 10**11)
                fields["ReceiptAck"] = f"250 2.6.0 {msgid} [InternalId={internal}] Queued mail for delivery"
            else:
                fields["Err"] = REFUSED if s.obs.action == "bounced" else DEFERRED
            fields.update({"Route": "Office 365 Inbound Route", "Sender": p.sender, "Snt": rint(rng, 9000, 42000),
                           "Subject": p.subject, "TlsVer": "TLSv1.2", "UseTls": "Yes", **head})
            return fields
        fields = {"acc": "C0A0", "datetime": mc_time(s.ts)}
        if s.act == "Block":
            fields["action"] = "Block"
        fields.update({"reason": "malicious" if s.act == "Block" else "clean", "recipient": p.recipient,
                       "route": "inbound", "sender": p.sender, "senderDomain": p.sender.split("@", 1)[1],
                       "sourceIp": PLATFORM_IP, "url": landing_url(p, gophish),
                       "urlCategory": "Phishing & Fraud" if s.act == "Block" else "Business"})
        return fields


WRITER = MimecastSiem()
