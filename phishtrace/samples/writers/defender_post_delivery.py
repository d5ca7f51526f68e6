"""Defender advanced-hunting EmailPostDeliveryEvents envelopes, JSON lines with CRLF (formats.md §3.2.2).

Only ZAP removals are planted: ActionType `Phish ZAP`, ActionResult Success, DeliveryLocation
Quarantine, hours after delivery -> removed_post_delivery (mailbox). Rows share NetworkMessageId
and InternetMessageId with the message's EmailEvents row.
"""

from __future__ import annotations

import random
from pathlib import Path

from phishtrace.samples.model import MessagePlan, Obs
from phishtrace.samples.profiles import CustomerContext
from phishtrace.samples.writers import Writer
from phishtrace.samples.writers._fmt import iso
from phishtrace.samples.writers.defender_email_events import delivery, envelope


def removal(plan: MessagePlan):
    s = plan.server
    if s is None or s.removed_ts is None or delivery(plan) is None:
        return None
    return s.removed_ts


class DefenderPostDelivery(Writer):
    format = "defender_post_delivery"

    def filename(self, ctx: CustomerContext) -> str:
        return "defender_post_delivery.json"

    def observe(self, plan: MessagePlan, ctx: CustomerContext) -> list[Obs]:
        ts = removal(plan)
        return [] if ts is None else [Obs("mailbox", "mailbox", "removed_post_delivery", ts, "quarantine")]

    def write(self, path: Path, plans: list[MessagePlan], ctx: CustomerContext) -> bool:
        rng = random.Random(f"{ctx.seed}:{ctx.name}:{self.format}")
        tenant_id = ctx.extra["tenant_id"]
        rows = []
        for p in plans:
            ts = removal(p)
            if ts is None:
                continue
            s = p.server
            assert s is not None
            props = {
                "Timestamp": iso(ts),
                "NetworkMessageId": s.network_id,
                "InternetMessageId": f"<{p.message_id}>",
                "Action": "Moved to quarantine",
                "ActionType": "Phish ZAP",
                "ActionTrigger": "SpecialAction",
                "ActionResult": "Success",
                "RecipientEmailAddress": p.recipient,
                "DeliveryLocation": "Quarantine",
                "ThreatTypes": "Phish",
                "DetectionMethods": '{"Phish":["URL detonation reputation"]}',
                "ReportId": f"{s.network_id}-{rng.getrandbits(62)}",
                "SenderFromAddress": p.sender,
                "EmailDirection": "Inbound",
            }
            rows.append((ts, envelope("AdvancedHunting-EmailPostDeliveryEvents", tenant_id, ts, props, rng)))
        if not rows:
            return False
        rows.sort(key=lambda r: r[0])
        path.write_bytes(b"\r\n".join(r for _, r in rows) + b"\r\n")
        return True


WRITER = DefenderPostDelivery()
