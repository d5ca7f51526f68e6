"""Defender advanced-hunting EmailEvents, storage-export envelopes as JSON lines with CRLF (formats.md §3.2.1).

DeliveryAction/DeliveryLocation -> canonical action (docs/architecture.md): Delivered + Inbox/folder
delivered (server); Delivered + Deleted items moved_by_rule (mailbox; a user rule moved it);
Junked + Junk junked; Blocked + Quarantine quarantined; Blocked + Dropped dropped (server).
"""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import orjson

from phishtrace.samples.model import MessagePlan, Obs
from phishtrace.samples.profiles import CustomerContext
from phishtrace.samples.writers import Writer
from phishtrace.samples.writers._fmt import iso, iso7, rint

DELIVERY = {
    "delivered": ("Delivered", "Inbox/folder"),
    "junked": ("Junked", "Junk"),
    "quarantined": ("Blocked", "Quarantine"),
    "failed": ("Blocked", "Dropped"),
}
ACTIONS = {
    ("Delivered", "Inbox/folder"): ("server", "delivered", "inbox"),
    ("Delivered", "Deleted items"): ("mailbox", "moved_by_rule", "deleted"),
    ("Junked", "Junk"): ("server", "junked", "junk"),
    ("Blocked", "Quarantine"): ("server", "quarantined", "quarantine"),
    ("Blocked", "Dropped"): ("server", "dropped", "none"),
}
VERDICT_DETAIL = {  # ThreatTypes, DetectionMethods, EmailAction
    "Junked": ("Spam", '{"Spam":["Advanced filter"]}', "Move message to junk mail folder"),
    "Blocked": ("Phish", '{"Phish":["URL detonation reputation"]}', "Send to quarantine"),
}


def delivery(plan: MessagePlan) -> tuple[str, str] | None:
    s = plan.server
    if s is None or not s.mailbox_logged or s.verdict not in DELIVERY:
        return None
    if s.verdict == "delivered" and s.moved_by_rule:
        return "Delivered", "Deleted items"
    return DELIVERY[s.verdict]


def envelope(category: str, tenant_id: str, ts, props: dict, rng: random.Random) -> bytes:
    sent = ts + timedelta(seconds=rng.uniform(60, 900))
    return orjson.dumps({"time": iso7(sent, extra_digit=rint(rng, 0, 9)), "tenantId": tenant_id,
                         "operationName": "Publish", "category": category,
                         "_TimeReceivedBySvc": f"{ts:%Y-%m-%dT%H:%M:%S}.0000000", "properties": props,
                         "Tenant": "DefaultTenant"})


class DefenderEmailEvents(Writer):
    format = "defender_email_events"

    def filename(self, ctx: CustomerContext) -> str:
        return "defender_email_events.json"

    def observe(self, plan: MessagePlan, ctx: CustomerContext) -> list[Obs]:
        d = delivery(plan)
        if d is None:
            return []
        assert plan.server is not None and plan.server.mailbox_ts is not None
        verdict_hop, action, location = ACTIONS[d]
        return [Obs("mailbox", verdict_hop, action, plan.server.mailbox_ts, location)]

    def write(self, path: Path, plans: list[MessagePlan], ctx: CustomerContext) -> bool:
        rng = random.Random(f"{ctx.seed}:{ctx.name}:{self.format}")
        tenant_id = ctx.extra["tenant_id"]
        sender_ip = "148.163.150.20" if ctx.profile.filter else "192.0.2.25"
        rows = []
        for p in plans:
            d = delivery(p)
            if d is None:
                continue
            s = p.server
            assert s is not None and s.mailbox_ts is not None
            threat, methods, email_action = VERDICT_DETAIL.get(d[0], (None, None, None))
            sender_domain = p.sender.split("@", 1)[1]
            props = {
                "Timestamp": iso(s.mailbox_ts),
                "NetworkMessageId": s.network_id,
                "InternetMessageId": f"<{p.message_id}>",
                "SenderMailFromAddress": p.sender,
                "SenderFromAddress": p.sender,
                "SenderDisplayName": "IT Helpdesk" if ctx.profile.filter else "Benefits Team",
                "SenderObjectId": None,
                "SenderMailFromDomain": sender_domain,
                "SenderFromDomain": sender_domain,
                "SenderIPv4": sender_ip,
                "SenderIPv6": None,
                "RecipientEmailAddress": p.recipient,
                "RecipientObjectId": s.network_id[::-1],
                "Subject": p.subject,
                "EmailClusterId": rint(rng, 10**9, 4 * 10**9),
                "EmailDirection": "Inbound",
                "DeliveryAction": d[0],
                "DeliveryLocation": d[1],
                "ThreatTypes": threat,
                "ThreatNames": None,
                "DetectionMethods": methods,
                "ConfidenceLevel": '{"Phish":"High"}' if d[0] == "Blocked" else None,
                "BulkComplaintLevel": None,
                "EmailAction": email_action,
                "EmailActionPolicy": "Antiphish" if d[0] == "Blocked" else "Antispam" if d[0] == "Junked" else None,
                "EmailActionPolicyGuid": None,
                "AuthenticationDetails": '{"SPF":"pass","DKIM":"pass","DMARC":"pass","CompAuth":"pass"}',
                "AttachmentCount": 0,
                "UrlCount": 2,
                "EmailLanguage": "en",
                "Connectors": None,
                "OrgLevelAction": None,
                "OrgLevelPolicy": None,
                "UserLevelAction": None,
                "UserLevelPolicy": None,
                "ReportId": f"{s.network_id}-{rng.getrandbits(62)}-1",
                "AdditionalFields": None,
                "ExchangeTransportRule": None,
                "DistributionList": None,
                "ForwardingInformation": None,
                "Context": None,
                "To": [p.recipient],
                "Cc": [],
                "ThreatClassification": None,
                "RecipientDomain": p.recipient.split("@", 1)[1],
                "EmailSize": rint(rng, 14000, 48000),
                "IsFirstContact": rng.random() < 0.5,
            }
            rows.append((s.mailbox_ts, envelope("AdvancedHunting-EmailEvents", tenant_id, s.mailbox_ts, props, rng)))
        if not rows:
            return False
        rows.sort(key=lambda r: r[0])
        path.write_bytes(b"\r\n".join(r for _, r in rows) + b"\r\n")
        return True


WRITER = DefenderEmailEvents()
