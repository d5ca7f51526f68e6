"""Attack simulation training simulation report user export (formats.md §1.4), one '<simulation>.csv' per
simulation (= run): the column table of the document §1.4 cites, in its order (as tests/data/ms_ast,
whose README says the header is unconfirmed), comma-separated, quoted only where needed, CRLF, ISO 8601
UTC times. Delivery is binary (SuccessfullyDeliveredEmail / FailedToDeliverEmail, both empty when
unknown); link clicks and credential entry carry IP, browser and device. This writer's `fit()` makes
the plans say what attack simulation training can record (writers/_platforms.py).
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

from phishtrace.samples.model import MessagePlan
from phishtrace.samples.profiles import CustomerContext
from phishtrace.samples.writers import Writer
from phishtrace.samples.writers._platforms import ast_simulation, browser_of, fit_ast
from phishtrace.samples.writers.gophish_results_csv import by_campaign

HEADER = [
    "UserName", "UserMail", "Compromised", "AttachmentOpened_TimeStamp", "AttachmentOpened_Browser",
    "AttachmentOpened_IP", "AttachmentOpened_Device", "AttachmentLinkClicked_TimeStamp",
    "AttachmentLinkClicked_Browser", "AttachmentLinkClicked_IP", "AttachmentLinkClicked_Device",
    "EmailLinkClicked_TimeStamp", "EmailLinkClicked_Browser", "EmailLinkClicked_IP", "EmailLinkClicked_Device",
    "EmailLinkClicked_ClickSource", "CredSupplied_TimeStamp(Compromised)", "CredSupplied_Browser", "CredSupplied_IP",
    "CredSupplied_Device", "SuccessfullyDeliveredEmail_TimeStamp", "MessageRead_TimeStamp", "MessageDeleted_TimeStamp",
    "MessageReplied_TimeStamp", "MessageForwarded_TimeStamp", "OutOfOfficeDays",
    "PositiveReinforcementMessageDelivered_TimeStamp", "PositiveReinforcementMessageFailed_TimeStamp",
    "JustSimulationMessageDelivered_TimeStamp", "JustSimulationMessageFailed_TimeStamp",
    "TrainingAssignmentMessageDelivered_TimeStamp", "TrainingAssignmentMessageFailed_TimeStamp",
    "FailedToDeliverEmail_TimeStamp", "Last Simulation Activity", "Assigned Trainings", "Completed Trainings",
    "Training Status", "Phishing Reported On", "Department", "Company", "Title", "Office", "City", "Country", "Manager",
]
DEPARTMENTS = (("Finance", "Analyst"), ("Sales", "Account Executive"), ("Engineering", "Engineer"),
               ("Operations", "Coordinator"))


def ast_time(dt: datetime | None) -> str:
    return "" if dt is None else dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def row(p: MessagePlan, n: int, company: str) -> dict[str, str]:
    seen = {i.kind: i for i in p.interactions}
    out = dict.fromkeys(HEADER, "")
    out.update({"UserName": f"{p.learner.first_name} {p.learner.last_name}", "UserMail": p.email,
                "Compromised": "Yes" if "entered_data" in seen else "No", "OutOfOfficeDays": "0"})
    for kind, prefix, stamp in (("clicked", "EmailLinkClicked", "EmailLinkClicked_TimeStamp"),
                                ("entered_data", "CredSupplied", "CredSupplied_TimeStamp(Compromised)")):
        if kind in seen:
            i = seen[kind]
            browser, _, _, device = browser_of(i.user_agent)
            out.update({stamp: ast_time(i.ts), f"{prefix}_Browser": browser, f"{prefix}_IP": i.ip,
                        f"{prefix}_Device": device})
    if "clicked" in seen:
        out["EmailLinkClicked_ClickSource"] = "PhishingURL"
    for kind, column in (("opened", "MessageRead_TimeStamp"), ("replied", "MessageReplied_TimeStamp"),
                         ("reported", "Phishing Reported On")):
        if kind in seen:
            out[column] = ast_time(seen[kind].ts)
    if p.bounced_at is not None:
        out["FailedToDeliverEmail_TimeStamp"] = ast_time(p.bounced_at)
    elif p.delivered_at is not None:
        out["SuccessfullyDeliveredEmail_TimeStamp"] = ast_time(p.delivered_at)
    out["Last Simulation Activity"] = "Compromised" if "entered_data" in seen else ""
    dept, title = DEPARTMENTS[n % len(DEPARTMENTS)]
    out.update({"Department": dept, "Company": company, "Title": title, "Office": "Building 2, Floor 3",
                "City": "Seattle", "Country": "United States", "Manager": "Mia Moss"})
    return out


class MsAstCsv(Writer):
    format = "ms_ast_csv"

    def filename(self, ctx: CustomerContext) -> str:
        return f"{ast_simulation(ctx.profile.campaign, 'Run 1')}.csv"

    def fit(self, b, plans: list[MessagePlan]) -> None:
        fit_ast(b, plans)

    def write(self, path: Path, plans: list[MessagePlan], ctx: CustomerContext) -> bool:
        """One file per simulation next to `path` (the first simulation's file)."""
        company = ctx.profile.domain.split(".")[0].split("-")[0].title()
        for simulation, rows in by_campaign(plans).items():
            with (path.parent / f"{simulation}.csv").open("w", encoding="utf-8", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=HEADER, lineterminator="\r\n")
                w.writeheader()
                w.writerows(row(p, n, company) for n, p in enumerate(rows))
        return True


WRITER = MsAstCsv()
