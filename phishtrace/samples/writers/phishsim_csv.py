"""PhishSim campaign export (phishtrace's documented schema, DESIGN.md §2.1): one row per learner per run."""

from __future__ import annotations

import csv
from pathlib import Path

from phishtrace.samples.model import MessagePlan
from phishtrace.samples.profiles import CustomerContext
from phishtrace.samples.writers import Writer
from phishtrace.samples.writers._fmt import EXPORT_OFFSETS, iso

HEADER = [
    "Campaign", "Campaign Run", "Run Start", "Run End", "First Name", "Last Name", "Email", "Status",
    "Scheduled At", "Sent At", "Delivered At", "Opened At", "Phished At", "Replied At", "Entered Data At",
    "Reported At", "Bounced At", "Bounce Reason", "Sender", "Subject", "Message ID",
]


class PhishSimCsv(Writer):
    format = "phishsim_csv"

    def filename(self, ctx: CustomerContext) -> str:
        return "phishsim_export.csv"

    def write(self, path: Path, plans: list[MessagePlan], ctx: CustomerContext) -> bool:
        with_ids = ctx.profile.export_message_id
        rows = [HEADER]
        for p in plans:
            tz = EXPORT_OFFSETS[p.tz_index % len(EXPORT_OFFSETS)]
            msgid = ""
            if with_ids and p.message_id:
                msgid = f"<{p.message_id}>" if p.msgid_brackets else p.message_id
            rows.append([
                p.campaign, p.run, iso(p.run_start, tz), iso(p.run_end, tz), p.learner.first_name,
                p.learner.last_name, p.email, p.status, iso(p.scheduled_at, tz), iso(p.sent_at, tz),
                iso(p.delivered_at, tz), iso(p.first("opened"), tz), iso(p.first("clicked"), tz),
                iso(p.first("replied"), tz), iso(p.first("entered_data"), tz), iso(p.first("reported"), tz),
                iso(p.bounced_at, tz), p.bounce_reason, p.sender, p.subject, msgid,
            ])
        with path.open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, lineterminator="\r\n").writerows(rows)
        return True


WRITER = PhishSimCsv()
