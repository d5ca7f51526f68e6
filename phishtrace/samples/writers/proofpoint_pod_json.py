"""Proofpoint on Demand Log API records, JSON lines (formats.md §2.1.1 `message`, §2.1.2 `maillog`).

Per message: one `message` record with the filter's disposition, a sendmail `from=` line when the
message was queued, and a `to=` line for the hand-off to the customer's MX (Sent / Deferred / 5.x.x).
"""

from __future__ import annotations

import base64
import random
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import orjson

from phishtrace.samples.model import FilterFacts, MessagePlan, Obs
from phishtrace.samples.profiles import CustomerContext
from phishtrace.samples.writers import Writer
from phishtrace.samples.writers._fmt import pod_data_ts, pod_ts, rint

PLATFORM_HOST = "mta1.phishsim-mailer.example"
PLATFORM_IP = "192.0.2.25"
FROM_LEAD = timedelta(milliseconds=300)  # the from= line is logged just before the filter's verdict
DISPOSITION = {"passed": "continue", "quarantined": "discard", "dropped": "discard", "rejected": "reject",
               "deferred": "retry"}
ACTION = {"passed": ("passed", None), "quarantined": ("quarantined", "quarantine"), "dropped": ("dropped", None),
          "rejected": ("rejected", None), "deferred": ("deferred", None)}


def from_line_ts(f: FilterFacts) -> datetime | None:
    """When the message was queued (a from= line); None when the filter refused it at SMTP time."""
    if f.verdict == "rejected" or (f.verdict == "deferred" and f.handoff is None):
        return None
    return f.ts - FROM_LEAD


class ProofpointPodJson(Writer):
    format = "proofpoint_pod_json"

    def filename(self, ctx: CustomerContext) -> str:
        return "proofpoint_pod.json"

    def observe(self, plan: MessagePlan, ctx: CustomerContext) -> list[Obs]:
        f = plan.filter
        if f is None:
            return []
        action, location = ACTION[f.verdict]
        out = [Obs("filter", "filter", action, f.ts, location)]
        queued = from_line_ts(f)
        if queued is not None:
            out.append(Obs("filter", "filter", "received", queued))
        if f.handoff == "sent":
            out.append(Obs("filter", "filter", "relayed", f.handoff_ts, "external"))
        elif f.handoff == "refused":
            out.append(Obs("filter", "server", "bounced", f.handoff_ts, None))
        elif f.handoff == "deferred":
            out.append(Obs("filter", "filter", "deferred", f.handoff_ts, None))
        return out

    def write(self, path: Path, plans: list[MessagePlan], ctx: CustomerContext) -> bool:
        rng = random.Random(f"{ctx.seed}:{ctx.name}:{self.format}")
        cid = f"{ctx.name}_hosted"
        agent = f"m{rint(rng, 1000000, 9999999)}.ppops.net"
        customer_id = str(uuid.UUID(int=rng.getrandbits(128)))
        mx_ip = f"52.101.{rint(rng, 0, 255)}.{rint(rng, 1, 254)}"
        origin = {"origin": {"data": {"cid": cid, "agent": agent, "version": "8.21.0.1358"}}}
        maillog_meta = {"origin": {"schemaVersion": "20200420", "data": {"cid": cid, "agent": agent}},
                        "customerId": customer_id}
        pps = {"cid": cid, "agent": agent}
        host = agent.split(".")[0]
        records: list[tuple[datetime, bytes]] = []

        def maillog(ts: datetime, qid: str, text: str, sm: dict, tls: dict) -> None:
            pid = rint(rng, 1000, 32000)
            rec = {"data": f"{pod_data_ts(ts)} {host} sendmail[{pid}]: {qid}: {text}", "tls": tls, "sm": sm,
                   "pps": pps, "ts": pod_ts(ts), "id": base64.b64encode(rng.getrandbits(136).to_bytes(17, "big")).decode()[:22],
                   "metadata": maillog_meta, "type": "maillog"}
            records.append((ts, orjson.dumps(rec)))

        for p in plans:
            f = p.filter
            if f is None:
                continue
            size = rint(rng, 9000, 42000)
            records.append((f.ts, orjson.dumps(self._message(p, f, size, origin, rng))))
            queued = from_line_ts(f)
            if queued is not None:
                maillog(queued, f.qid,
                        f"from=<{p.sender}>, size={size}, class=0, nrcpts=1, msgid=<{p.message_id}>, proto=ESMTP, "
                        f"daemon=MTA, tls_verify=NONE, tls_version=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384, "
                        f"auth=NONE, relay={PLATFORM_HOST} [{PLATFORM_IP}]",
                        {"auth": "NONE", "class": "0", "daemon": "MTA", "from": f"<{p.sender}>",
                         "msgid": f"<{p.message_id}>", "nrcpts": "1", "proto": "ESMTP", "qid": f.qid,
                         "relay": f"{PLATFORM_HOST} [{PLATFORM_IP}]", "sizeBytes": str(size)},
                        {"cipher": "TLS_AES_256_GCM_SHA384", "verify": "NONE", "version": "TLSv1.3"})
            if f.handoff is None:
                continue
            assert f.handoff_ts is not None
            delay = f.handoff_ts - f.ts
            hms = f"00:{int(delay.total_seconds()) // 60:02d}:{int(delay.total_seconds()) % 60:02d}"
            relay = f"{ctx.profile.mx}. [{mx_ip}]"
            pri = str(rint(rng, 30000, 140000))
            if f.handoff == "sent":
                dsn, stat = "2.0.0", f"Sent (Ok: queued as {rng.getrandbits(40):010X})"
            elif f.handoff == "refused":
                dsn, stat = "5.1.1", "User unknown"
            else:
                dsn, stat = "4.4.1", f"Deferred: Connection timed out with {ctx.profile.mx}."
            maillog(f.handoff_ts, f.qid,
                    f"to=<{p.email}>, delay={hms}, xdelay={hms}, mailer=esmtp, tls_verify=OK, tls_version=TLSv1.2, "
                    f"cipher=ECDHE-RSA-AES256-GCM-SHA384, pri={pri}, relay={relay}, dsn={dsn}, stat={stat}",
                    {"delay": hms, "dsn": dsn, "mailer": "esmtp", "pri": pri, "qid": f.qid, "relay": relay,
                     "stat": stat, "to": [f"<{p.email}>"], "xdelay": hms},
                    {"cipher": "ECDHE-RSA-AES256-GCM-SHA384", "verify": "OK", "version": "TLSv1.2"})
        if not records:
            return False
        records.sort(key=lambda r: r[0])
        path.write_bytes(b"\n".join(r for _, r in records) + b"\n")
        return True

    @staticmethod
    def _message(p: MessagePlan, f: FilterFacts, size: int, origin: dict, rng: random.Random) -> dict:
        rule = f.rule if f.verdict == "quarantined" else "phish" if f.verdict in ("dropped", "rejected") else "notspam"
        if f.verdict == "passed":
            actions = [{"module": "av", "rule": "clean", "action": "continue"},
                       {"module": "spam", "rule": "notspam", "action": "add-header"}]
            if f.rule == "audit":
                actions[1:] = [{"module": "spam", "rule": "bulk", "action": "copy"},
                               {"module": "spam", "rule": "bulk", "action": "audit"}]
                rule = "bulk"
            actions.append({"module": "spam", "rule": rule, "action": "continue", "isFinal": True})
            score = rint(rng, 40, 70) if f.rule == "audit" else rint(rng, 0, 30)
        elif f.verdict in ("quarantined", "dropped"):
            actions = [{"module": "av", "rule": "clean", "action": "add-header"},
                       {"module": "av", "rule": "clean", "action": "continue"},
                       {"module": "spam", "rule": rule, "action": "add-header"}]
            if f.verdict == "quarantined":
                actions += [{"module": "spam", "rule": rule, "action": "copy"},
                            {"module": "spam", "rule": rule, "action": "quarantine"}]
            actions.append({"module": "spam", "rule": rule, "action": "discard", "isFinal": True})
            score = rint(rng, 90, 100)
        elif f.verdict == "rejected":
            actions = [{"module": "spam", "rule": rule, "action": "reject", "isFinal": True}]
            score = 100
        else:
            actions = [{"module": "av", "rule": "scan_timeout", "action": "retry", "isFinal": True}]
            score = 0
        header_from = f"\"IT Helpdesk\" <{p.sender}>"
        filt: dict = {
            "actions": actions,
            "modules": {"spam": {"scores": {"overall": score, "engine": score,
                                            "classifiers": {"phish": score, "spam": score // 2, "bulk": 0}}},
                        "urldefense": {"counts": {"total": 2, "unique": 1, "rewritten": 2}}},
            "routeDirection": "inbound",
            "verified": {"rcpts": [p.email]},
            "msgSizeBytes": size,
            "routes": ["default_inbound"],
            "durationSecs": round(rng.uniform(0.05, 0.9), 6),
            "delivered": {"rcpts": [p.email]},
            "disposition": DISPOSITION[f.verdict],
            "qid": f.qid,
            "suborgs": {"sender": "0", "rcpts": ["0"]},
        }
        if f.verdict == "quarantined":
            filt["quarantine"] = {"module": "spam", "folderId": f.rule, "type": "quarantine", "folder": f.folder,
                                  "rule": f.rule}
            filt["isMsgInDigest"] = f.folder == "Bulk"
        elif f.rule == "audit":
            filt["quarantine"] = {"rule": "audit", "folder": f.folder}
        rec = {
            "metadata": origin,
            "ts": pod_ts(f.ts),
            "envelope": {"from": p.sender, "rcpts": [p.email]},
            "connection": {"host": PLATFORM_HOST, "ip": PLATFORM_IP, "sid": f.qid[:10].lower(), "country": "us",
                           "protocol": "smtp:smtp", "resolveStatus": "ok", "helo": PLATFORM_HOST,
                           "tls": {"inbound": {"version": "TLSv1.3", "cipherBits": 256,
                                               "cipher": "TLS_AES_256_GCM_SHA384"}}},
            "msg": {
                "lang": "en",
                "normalizedHeader": {"to": [f"<{p.email}>"], "subject": [p.subject],
                                     "message-id": [p.message_id], "from": [header_from]},
                "parsedAddresses": {"fromDisplayNames": ["IT Helpdesk"], "from": [p.sender], "to": [p.email]},
                "header": {"from": [header_from], "message-id": [f"<{p.message_id}>"], "subject": [p.subject],
                           "to": [f"<{p.email}>"]},
                "sizeBytes": size,
            },
            "filter": filt,
            "guid": f.guid,
            "type": "message",
        }
        if f.verdict in ("passed", "quarantined") and rng.random() < 0.3:
            # some PoD feeds add the deciding action at the top level (formats.md §2.1.1)
            rec["final_module"], rec["final_rule"] = "spam", rule
            rec["final_action"] = "continue" if f.verdict == "passed" else "discard"
        return rec


WRITER = ProofpointPodJson()
