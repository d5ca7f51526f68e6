"""GoPhish Events ("Raw Events") CSV (formats.md §1.1.1, §1.1.3), one '<campaign> - Events.csv' per campaign.

v0.10.0+ header `campaign_id,email,time,message,details`, PapaParse rules as the Results CSV. Per campaign:
`Campaign Created` (empty email) at the run start, then per recipient `Email Sent` (the relay accepted it;
empty details) or `Error Sending Email` (`{"error": "<SMTP reply>"}`), and `Email Opened`, `Clicked Link`,
`Submitted Data` (submitted field names, `__original_url`) and `Email Reported` with the details JSON Go
writes (`{"payload":{…,"rid":[…]},"browser":{"address":…,"user-agent":…}}`; a report from the IMAP
monitor has `{"payload":null,"browser":null}`). Rows in time order. Nothing here yields mail events.
"""

from __future__ import annotations

import json
from pathlib import Path

from phishtrace.samples.model import MessagePlan
from phishtrace.samples.profiles import CustomerContext
from phishtrace.samples.writers import Writer
from phishtrace.samples.writers._platforms import gophish_campaign, landing_url, rid_of, run_number
from phishtrace.samples.writers.gophish_results_csv import by_campaign, go_time, papa_unparse

HEADER = ["campaign_id", "email", "time", "message", "details"]
MESSAGE = {"opened": "Email Opened", "clicked": "Clicked Link", "entered_data": "Submitted Data",
           "reported": "Email Reported"}


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def details(p: MessagePlan, kind: str, ip: str, ua: str, n: int) -> str:
    rid = rid_of(p)
    browser = {"address": ip, "user-agent": ua}
    if kind == "entered_data":
        url = landing_url(p, gophish=True)
        payload = {"__original_url": [url], "password": ["Summer2025!"], "rid": [rid], "username": [p.email]}
        return _json({"payload": payload, "browser": browser})
    if kind == "reported" and n % 2:
        return _json({"payload": None, "browser": None})  # reported through the IMAP monitor
    return _json({"payload": {"rid": [rid]}, "browser": browser})


class GophishEventsCsv(Writer):
    format = "gophish_events_csv"

    def filename(self, ctx: CustomerContext) -> str:
        return f"{gophish_campaign(ctx.profile.campaign, 'Run 1')} - Events.csv"

    def write(self, path: Path, plans: list[MessagePlan], ctx: CustomerContext) -> bool:
        """One file per campaign next to `path` (the first campaign's file)."""
        for campaign, rows in by_campaign(plans).items():
            cid = 40 + run_number(campaign)
            events = [(rows[0].run_start, 0, [cid, None, go_time(rows[0].run_start), "Campaign Created", None])]
            for n, p in enumerate(rows):
                if p.sent_at is None:
                    continue
                if p.bounced_at is not None:
                    events.append((p.bounced_at, 1, [cid, p.email, go_time(p.bounced_at), "Error Sending Email",
                                                     _json({"error": p.bounce_reason})]))
                    continue
                events.append((p.sent_at, 1, [cid, p.email, go_time(p.sent_at), "Email Sent", None]))
                for i in p.interactions:
                    events.append((i.ts, 2, [cid, p.email, go_time(i.ts), MESSAGE[i.kind],
                                             details(p, i.kind, i.ip, i.user_agent, n)]))
            events.sort(key=lambda e: (e[0], e[1]))
            lines: list[list[object]] = [list(HEADER), *(e[2] for e in events)]
            (path.parent / f"{campaign} - Events.csv").write_text(papa_unparse(lines), encoding="utf-8", newline="")
        return True


WRITER = GophishEventsCsv()
