"""Office 365 Management Activity `TIMailData` records (formats.md §3.3.1) as one content blob (a JSON array).

One record per simulation message Defender recorded (`ServerFacts.mailbox_logged`), `Recipients` =
the recipient, `MessageTime` / `CreationTime` without zone (UTC by Management API convention):

| message | DeliveryAction / OriginalDeliveryLocation | event (stg_m365_timaildata_json) |
|---|---|---|
| delivered (phishing-simulation override) | Delivered / Inbox | delivered (server) |
| delivered, a rule put it in Deleted Items (no inbox-rule record for it) | Delivered / DeletedFolder | moved_by_rule (mailbox) |
| junked | DeliveredAsSpam / JunkFolder | junked (server) |
| quarantined | Blocked / Quarantine | quarantined (server) |
| failed | Blocked / Dropped | dropped (server) |

`LatestDeliveryLocation` differs from the original when the message moved later, at `CreationTime`:
Inbox -> Quarantine / JunkFolder / DeletedFolder (ZAP or remediation) = removed_post_delivery (mailbox);
Quarantine -> Inbox = released (server); JunkFolder -> Inbox = redelivered (server). Otherwise
`CreationTime` is when the record was written, up to three minutes after `MessageTime`.
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
from phishtrace.samples.writers._fmt import floor_second, rint
from phishtrace.samples.writers._hops import extra, frac, pick, removal_source

VERDICT = {
    "delivered": ("Delivered", "Inbox"),
    "junked": ("DeliveredAsSpam", "JunkFolder"),
    "quarantined": ("Blocked", "Quarantine"),
    "failed": ("Blocked", "Dropped"),
}
# OriginalDeliveryLocation -> (verdict_hop, action, location) of the verdict event
FIRST = {
    "Inbox": ("server", "delivered", "inbox"),
    "JunkFolder": ("server", "junked", "junk"),
    "Quarantine": ("server", "quarantined", "quarantine"),
    "Dropped": ("server", "dropped", "none"),
    "DeletedFolder": ("mailbox", "moved_by_rule", "deleted"),
}
# (original, latest) -> (verdict_hop, action, location) of the move event
MOVE = {
    ("Inbox", "Quarantine"): ("mailbox", "removed_post_delivery", "quarantine"),
    ("Inbox", "JunkFolder"): ("mailbox", "removed_post_delivery", "junk"),
    ("Inbox", "DeletedFolder"): ("mailbox", "removed_post_delivery", "deleted"),
    ("Quarantine", "Inbox"): ("server", "released", "inbox"),
    ("JunkFolder", "Inbox"): ("server", "redelivered", "inbox"),
}
POLICY = {"Delivered": ("Phish", None, "Phish"), "DeliveredAsSpam": ("Spam", "MoveToJmf", "Spam"),
          "Blocked": ("Phish", "Quarantine", "Phish")}


def record_facts(plan: MessagePlan, ctx: CustomerContext) -> tuple[str, str, str, datetime, datetime] | None:
    """(DeliveryAction, original, latest, MessageTime, CreationTime), or None when there is no record."""
    s = plan.server
    if s is None or not s.mailbox_logged or s.verdict not in VERDICT or s.mailbox_ts is None:
        return None
    action, original = VERDICT[s.verdict]
    if s.verdict == "failed":
        original = pick(plan, "dropped", ("Dropped", "Dropped", "Failed"))
    if s.moved_by_rule and plan.message_id not in ctx.extra.get("inbox_rules", {}).get("covered", ()):
        original = "DeletedFolder"
    message_time = floor_second(s.mailbox_ts)
    latest, created = original, message_time + timedelta(seconds=int(frac(plan, "ti_written") * 180))
    undo = extra(plan, "undo_ts")
    if removal_source(plan, ctx) == "timaildata":
        assert s.removed_ts is not None
        latest, created = pick(plan, "zap_to", ("Quarantine", "Quarantine", "JunkFolder", "DeletedFolder")), s.removed_ts
    elif undo is not None and original in ("Quarantine", "JunkFolder"):
        latest, created = "Inbox", floor_second(undo)
    return action, original, latest, message_time, created


class M365TIMailDataJson(Writer):
    format = "m365_timaildata_json"

    def filename(self, ctx: CustomerContext) -> str:
        return "timaildata.json"

    def observe(self, plan: MessagePlan, ctx: CustomerContext) -> list[Obs]:
        facts = record_facts(plan, ctx)
        if facts is None:
            return []
        _, original, latest, message_time, created = facts
        key = "Dropped" if original == "Failed" else original
        hop, action, location = FIRST[key]
        out = [Obs("mailbox", hop, action, message_time, location)]
        if latest != original:
            hop, action, location = MOVE[(original, latest)]
            out.append(Obs("mailbox", hop, action, created, location))
        return out

    def write(self, path: Path, plans: list[MessagePlan], ctx: CustomerContext) -> bool:
        rng = random.Random(f"{ctx.seed}:{ctx.name}:{self.format}")
        tenant_id = ctx.extra["tenant_id"]
        records = []
        for p in plans:
            facts = record_facts(p, ctx)
            if facts is None:
                continue
            action, original, latest, message_time, created = facts
            s = p.server
            assert s is not None
            verdict, policy_action, policy = POLICY[action]
            if original == "Dropped" or original == "Failed":
                verdict, policy_action, policy = "Malware", "DeleteMessage", "Malware"
            record_id = str(uuid.UUID(int=rng.getrandbits(128)))
            rec = {
                "CreationTime": f"{created:%Y-%m-%dT%H:%M:%S}", "Id": record_id, "Operation": "TIMailData",
                "OrganizationId": tenant_id, "RecordType": 28, "UserKey": "ThreatIntel", "UserType": 4, "Version": 1,
                "Workload": "ThreatIntelligence", "ObjectId": f"{s.network_id}{rng.getrandbits(64):016x}",
                "UserId": "ThreatIntel", "AttachmentData": [],
                "AuthDetails": [{"Name": "SPF", "Value": "Pass"}, {"Name": "DKIM", "Value": "Pass"},
                                {"Name": "DMARC", "Value": "Pass"}, {"Name": "Comp Auth", "Value": "pass"}],
                "DeliveryAction": action, "DetectionMethod": "URL detonation reputation",
                "DetectionType": "Inline", "Directionality": "Inbound",
                "EventDeepLink": (f"https://security.microsoft.com/?hash=/threatexplorer?messageParams="
                                  f"{s.network_id},{s.network_id}-{record_id},{message_time:%Y-%m-%dT00:00:00},"
                                  f"{message_time:%Y-%m-%dT23:59:59}&view=Phish"),
                "InternetMessageId": f"<{p.message_id}>", "LatestDeliveryLocation": latest,
                "MessageTime": f"{message_time:%Y-%m-%dT%H:%M:%S}", "NetworkMessageId": s.network_id,
                "OriginalDeliveryLocation": original, "P1Sender": p.sender, "P2Sender": p.sender,
                "PhishConfidenceLevel": "High" if action == "Blocked" else "Normal", "Policy": policy,
                "PolicyAction": policy_action, "Recipients": [p.recipient], "SenderIp": "192.0.2.25",
                "Subject": p.subject, "Verdict": verdict,
                "SystemOverrides": ([{"Details": "Third party simulation", "FinalOverride": "Yes", "Result": "Allow",
                                      "Source": "Phishing simulation"}] if action == "Delivered" else []),
                "Connector": None,
            }
            if policy_action is None:
                del rec["PolicyAction"]
            records.append((created, rint(rng, 0, 9), rec))
        if not records:
            return False
        records.sort(key=lambda r: (r[0], r[1]))
        path.write_bytes(orjson.dumps([r for _, _, r in records], option=orjson.OPT_INDENT_2) + b"\n")
        return True


WRITER = M365TIMailDataJson()
