"""Proofpoint TAP SIEM API responses (formats.md §2.1.4): one `/v2/siem/all` envelope per hour, as JSON
lines (`{"queryEndTime":…,"messagesDelivered":[…],"messagesBlocked":[…],"clicksPermitted":[…],
"clicksBlocked":[…]}`).

A simulation appears in TAP only when its URL is threat-classified: for the customers that have this file,
the campaign's landing domain is (classification `phish`, its case varies), so every message the PoD
filter processed is listed: passed -> messagesDelivered (staged `passed`, with the threat call-out in the
reason), quarantined -> messagesBlocked (quarantineFolder; `quarantined`). Every click on a delivered
message goes through URL Defense: clicksPermitted (`clicked`) with the clicking client's `clickIP` and
`userAgent` (a link scanner's or a person's), clicksBlocked (`clicked_blocked`) for clicks it stopped.
URLs carry the GoPhish rid when the platform is GoPhish (the message's `threatsInfoMap` too, so the record
matches by token). `sender` has its local part hashed, as TAP does. Times are UTC, whole seconds, `.000Z`.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import orjson

from phishtrace.samples.model import MessagePlan, Obs
from phishtrace.samples.profiles import CustomerContext
from phishtrace.samples.writers import Writer
from phishtrace.samples.writers._fmt import floor_second, rint
from phishtrace.samples.writers._platforms import landing_url

PLATFORM_IP = "192.0.2.25"
CLASSIFICATION = ("phish", "PHISH", "phish", "Phish")
INSIGHT = "https://threatinsight.proofpoint.com"
LISTS = ("messagesDelivered", "messagesBlocked", "clicksPermitted", "clicksBlocked")


def tap_time(dt: datetime) -> str:
    return floor_second(dt).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def hashed(sender: str) -> str:
    local, _, domain = sender.partition("@")
    return f"{hashlib.md5(local.encode()).hexdigest()}@{domain}"


def records(p: MessagePlan) -> list[tuple[str, datetime, Obs, object]]:
    """(list, time, staged event, the interaction for a click) for one message."""
    f = p.filter
    if f is None or f.verdict not in ("passed", "quarantined") or f.released_ts is not None:
        return []
    t = floor_second(f.ts)
    if f.verdict == "quarantined":
        return [("messagesBlocked", t, Obs("filter", "filter", "quarantined", t, "quarantine"), None)]
    out: list[tuple[str, datetime, Obs, object]] = [
        ("messagesDelivered", t, Obs("filter", "filter", "passed", t), None)]
    for name, action, clicks in (("clicksPermitted", "clicked", [i for i in p.interactions if i.kind == "clicked"]),
                                 ("clicksBlocked", "clicked_blocked", f.blocked_clicks)):
        for i in clicks:
            c = floor_second(i.ts)
            out.append((name, c, Obs("filter", "filter", action, c, None, i.ip, i.user_agent), i))
    return out


class ProofpointTapJson(Writer):
    format = "proofpoint_tap_json"

    def filename(self, ctx: CustomerContext) -> str:
        return "proofpoint_tap_siem.json"

    def observe(self, plan: MessagePlan, ctx: CustomerContext) -> list[Obs]:
        return [obs for _, _, obs, _ in records(plan)]

    def write(self, path: Path, plans: list[MessagePlan], ctx: CustomerContext) -> bool:
        rng = random.Random(f"{ctx.seed}:{ctx.name}:{self.format}")
        gophish = ctx.profile.platform[0].startswith("gophish")
        hours: dict[datetime, dict[str, list]] = {}
        first = min((ts for p in plans for _, ts, _, _ in records(p)), default=None)
        if first is None:
            return False
        threat_time = first - timedelta(minutes=5)  # the landing URL was classified before the first message
        for n, p in enumerate(plans):
            for name, ts, obs, click in records(p):
                f = p.filter
                assert f is not None
                url = landing_url(p, gophish)
                threat_id = hashlib.sha256(url.split("?")[0].encode()).hexdigest()
                common = {"GUID": f.guid, "messageID": f"<{p.message_id}>" if n % 2 else p.message_id,
                          "sender": hashed(p.sender), "senderIP": PLATFORM_IP}
                threat = {"classification": CLASSIFICATION[n % len(CLASSIFICATION)], "threatID": threat_id,
                          "threatStatus": "active", "threatTime": tap_time(threat_time),
                          "threatURL": f"{INSIGHT}/{ctx.extra['tenant_id']}/threat/email/{threat_id}"}
                if click is None:
                    rec = {**common, "QID": f.qid, "id": str(uuid.UUID(int=rng.getrandbits(128))),
                           "messageTime": tap_time(ts), "recipient": [p.recipient], "toAddresses": [p.recipient],
                           "ccAddresses": [], "fromAddress": [p.sender], "headerFrom": f"<{p.sender}>",
                           "headerTo": f"<{p.email}>", "subject": p.subject,
                           "xmailer": "gophish" if gophish else None, "clusterId": f"{ctx.name}_hosted",
                           "policyRoutes": ["default_inbound"], "modulesRun": ["spam", "urldefense", "pdr"],
                           "phishScore": rint(rng, 60, 100), "spamScore": rint(rng, 0, 40), "impostorScore": 0,
                           "malwareScore": 0, "completelyRewritten": "true", "messageSize": rint(rng, 9000, 42000),
                           "quarantineFolder": f.folder if obs.action == "quarantined" else None,
                           "quarantineRule": f"module.spam.rule.{f.rule}" if obs.action == "quarantined" else None,
                           "threatsInfoMap": [{**threat, "threat": url, "threatType": "url", "campaignId": None}]}
                else:
                    rec = {**common, "id": str(uuid.UUID(int=rng.getrandbits(128))), "recipient": p.recipient,
                           "clickIP": click.ip, "clickTime": tap_time(ts), "url": url, "userAgent": click.user_agent,
                           "campaignId": None, **threat}
                hour = ts.replace(minute=0, second=0)
                hours.setdefault(hour, {name: [] for name in LISTS})[name].append((ts, rec))
        out = []
        for hour in sorted(hours):
            env: dict[str, object] = {"queryEndTime": tap_time(hour + timedelta(hours=1))}
            for name in LISTS:
                env[name] = [rec for _, rec in sorted(hours[hour][name], key=lambda r: r[0])]
            out.append(orjson.dumps(env))
        path.write_bytes(b"\n".join(out) + b"\n")
        return True


WRITER = ProofpointTapJson()
