"""PhishSim learner list with bounced status (DESIGN.md §2.1): Email, names, Bounced true/false."""

from __future__ import annotations

import csv
from pathlib import Path

from phishtrace.samples.model import MessagePlan
from phishtrace.samples.profiles import CustomerContext
from phishtrace.samples.writers import Writer
from phishtrace.samples.writers._fmt import iso

HEADER = ["Email", "First Name", "Last Name", "Bounced", "Bounced At", "Bounce Reason"]


class PhishSimLearnersCsv(Writer):
    format = "phishsim_learners_csv"

    def filename(self, ctx: CustomerContext) -> str:
        return "phishsim_learners.csv"

    def write(self, path: Path, plans: list[MessagePlan], ctx: CustomerContext) -> bool:
        rows = [HEADER]
        for learner in ctx.learners:
            rows.append([learner.email, learner.first_name, learner.last_name, "true" if learner.bounced else "false",
                         iso(learner.bounced_at), learner.bounce_reason])
        with path.open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, lineterminator="\r\n").writerows(rows)
        return True


WRITER = PhishSimLearnersCsv()
