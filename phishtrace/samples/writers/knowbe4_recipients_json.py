"""KnowBe4 Reporting API PST recipients (formats.md §1.2): every test's GET .../recipients pages, as JSON
lines (one response page, a JSON array of recipient records, per line), in the shape of the demisto /
Sumo Logic samples: `recipient_id, pst_id, user{…}, template{…}`, the `*_at` timestamps (UTC with
milliseconds, or null; no status enum), `ip, ip_location, browser, browser_version, os` of the click.
This writer's `fit()` makes the plans say what KnowBe4 can record (writers/_platforms.py).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import orjson

from phishtrace.samples.model import MessagePlan
from phishtrace.samples.profiles import CustomerContext
from phishtrace.samples.writers import Writer
from phishtrace.samples.writers._platforms import browser_of, fit_knowbe4

PAGE = 25  # records per response page
KINDS = {"opened": "opened_at", "clicked": "clicked_at", "replied": "replied_at", "entered_data": "data_entered_at",
         "reported": "reported_at"}


def kb4_time(dt: datetime | None) -> str | None:
    return None if dt is None else dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def record(p: MessagePlan, n: int, ctx: CustomerContext) -> dict:
    seen = {KINDS[i.kind]: i for i in p.interactions}
    click = seen.get("clicked_at")
    browser, version, os_name, _ = browser_of(click.user_agent) if click else (None, None, None, None)
    user_id = 260000 + int(hashlib.md5(p.recipient.encode()).hexdigest()[:6], 16) % 700000
    return {
        "recipient_id": 3_000_000 + (int(p.run) % 1000) * 10_000 + n,
        "pst_id": int(p.run),
        "user": {"id": user_id, "provisioning_guid": f"usr-{hashlib.md5(p.email.encode()).hexdigest()[:24]}",
                 "first_name": p.learner.first_name, "last_name": p.learner.last_name, "email": p.email},
        "template": {"id": 4813400, "name": ctx.profile.subject, "difficulty": 4, "type": "USER"},
        "scheduled_at": kb4_time(p.scheduled_at),
        "delivered_at": kb4_time(p.delivered_at),
        "opened_at": kb4_time(seen["opened_at"].ts if "opened_at" in seen else None),
        "clicked_at": kb4_time(click.ts if click else None),
        "replied_at": kb4_time(seen["replied_at"].ts if "replied_at" in seen else None),
        "attachment_opened_at": None,
        "macro_enabled_at": None,
        "data_entered_at": kb4_time(seen["data_entered_at"].ts if "data_entered_at" in seen else None),
        "qr_code_scanned": None,
        "reported_at": kb4_time(seen["reported_at"].ts if "reported_at" in seen else None),
        "bounced_at": kb4_time(p.bounced_at),
        "ip": click.ip if click else None,
        "ip_location": "Rochester Hills, MI" if click and click.human else ("Redmond, WA" if click else None),
        "browser": browser,
        "browser_version": version or None,
        "os": os_name or None,
    }


class KnowBe4RecipientsJson(Writer):
    format = "knowbe4_recipients_json"

    def filename(self, ctx: CustomerContext) -> str:
        return "knowbe4_pst_recipients.json"

    def fit(self, b, plans: list[MessagePlan]) -> None:
        fit_knowbe4(b, plans)

    def write(self, path: Path, plans: list[MessagePlan], ctx: CustomerContext) -> bool:
        records = [record(p, n, ctx) for n, p in enumerate(plans)]
        pages = [records[i:i + PAGE] for i in range(0, len(records), PAGE)]
        path.write_bytes(b"\n".join(orjson.dumps(page) for page in pages) + b"\n")
        return True


WRITER = KnowBe4RecipientsJson()
