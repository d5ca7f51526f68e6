"""Abnormal Security threats API message records, JSON lines (formats.md §2.4), one per message it flagged.

* A message Abnormal pulled from the mailbox after delivery: `remediationStatus` `Auto-Remediated`
  (`autoRemediated` true) or `Post Remediated` (`postRemediated` true), `receivedTime` when it reached
  the mailbox (whole seconds, `Z`), `remediationTimestamp` hours later (microseconds, `Z`) -> delivered
  (server) at receivedTime and removed_post_delivery (mailbox) at remediationTimestamp.
* A few delivered simulation messages Abnormal flagged without acting: `Not Remediated` -> received
  (mailbox), not a verdict.
Every record of one campaign run carries the same `threatId` (Abnormal groups a campaign into one threat).
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import orjson

from phishtrace.samples.model import MessagePlan, Obs
from phishtrace.samples.profiles import CustomerContext
from phishtrace.samples.writers import Writer
from phishtrace.samples.writers._fmt import floor_second, iso, rint
from phishtrace.samples.writers._hops import extra, frac, pick, removal_source

PLATFORM_IP = "192.0.2.25"


def remediated_at(plan: MessagePlan) -> datetime:
    assert plan.server is not None and plan.server.removed_ts is not None
    return plan.server.removed_ts + timedelta(microseconds=int(frac(plan, "abx_usec") * 999999) + 1)


def flagged_only(plan: MessagePlan) -> bool:
    """A delivered simulation message Abnormal flagged but did not remediate."""
    s = plan.server
    return (plan.scenario in ("delivered", "interacted") and s is not None and s.verdict == "delivered"
            and s.removed_ts is None and not s.moved_by_rule and extra(plan, "undo_ts") is None
            and pick(plan, "abx_flag", (True, False, False, False)))


class AbnormalThreatsJson(Writer):
    format = "abnormal_threats_json"

    def filename(self, ctx: CustomerContext) -> str:
        return "abnormal_threats.json"

    def observe(self, plan: MessagePlan, ctx: CustomerContext) -> list[Obs]:
        if removal_source(plan, ctx) == "abnormal":
            assert plan.server is not None
            return [Obs("mailbox", "server", "delivered", floor_second(plan.server.ts), None),
                    Obs("mailbox", "mailbox", "removed_post_delivery", remediated_at(plan), None)]
        if flagged_only(plan):
            assert plan.server is not None
            return [Obs("mailbox", "mailbox", "received", floor_second(plan.server.ts), None)]
        return []

    def write(self, path: Path, plans: list[MessagePlan], ctx: CustomerContext) -> bool:
        rng = random.Random(f"{ctx.seed}:{ctx.name}:{self.format}")
        threats: dict[str, str] = {}
        rows = []
        for p in plans:
            removed = removal_source(p, ctx) == "abnormal"
            if not removed and not flagged_only(p):
                continue
            s = p.server
            assert s is not None and p.sent_at is not None
            threat = threats.setdefault(p.run, str(uuid.UUID(int=rng.getrandbits(128))))
            abx = rng.getrandbits(63) - (1 << 62)
            post = removed and pick(p, "abx_post", (False, False, True))
            domain = p.sender.split("@", 1)[1]
            rec = {
                "abxMessageId": abx, "abxMessageIdStr": str(abx),
                "abxPortalUrl": f"https://portal.abnormalsecurity.com/home/threat-center/remediation-history/{abx}",
                "attachmentCount": 0, "attachmentNames": [], "attackStrategy": "Name Impersonation",
                "attackType": "Phishing: Credential", "attackVector": "Link",
                "attackedParty": "Employee (Other)", "autoRemediated": removed and not post,
                "fromAddress": p.sender, "fromName": p.sender.split("@")[0].replace("-", " ").title(),
                "impersonatedParty": "Brand", "internetMessageId": f"<{p.message_id}>",
                "isRead": bool(p.interactions) or pick(p, "abx_read", (False, False, True)),
                "postRemediated": post, "receivedTime": iso(floor_second(s.ts)),
                "recipientAddress": p.recipient,
                "remediationStatus": ("Post Remediated" if post else "Auto-Remediated") if removed else "Not Remediated",
                "remediationTimestamp": remediated_at(p).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if removed else None,
                "sentTime": iso(floor_second(p.sent_at)), "subject": p.subject, "threatId": threat,
                "toAddresses": [p.recipient], "ccEmails": [], "replyToEmails": [], "returnPath": p.sender,
                "senderDomain": domain, "senderIpAddress": PLATFORM_IP,
                "summaryInsights": ["Unusual Sender", "Suspicious Link"], "urlCount": rint(rng, 1, 3),
                "urls": [f"https://{domain}/l/{rng.getrandbits(40):010x}"],
            }
            if not removed:
                del rec["remediationTimestamp"]
            rows.append((s.ts, orjson.dumps(rec)))
        if not rows:
            return False
        rows.sort(key=lambda r: r[0])
        path.write_bytes(b"\n".join(r for _, r in rows) + b"\n")
        return True


WRITER = AbnormalThreatsJson()
