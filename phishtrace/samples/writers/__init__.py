"""One writer per output format: renders a customer's plans into that format's file.

A writer also reports, per plan, the canonical mail events (`Obs`) its file yields once loaded,
following the vendor mappings of docs/architecture.md; the generator's truth is computed from them.
Add a format by adding a module here with a `Writer` subclass and listing it in `_MODULES`.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import ClassVar

from phishtrace.samples.model import MessagePlan, Obs
from phishtrace.samples.profiles import CustomerContext


class Writer:
    format: ClassVar[str] = ""  # the loader name that reads this file

    def filename(self, ctx: CustomerContext) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def prepare(self, plans: list[MessagePlan], ctx: CustomerContext) -> None:
        """Called once with the customer's plans (runs 1 and 2) before observe(), for per-customer decisions."""

    def fit(self, b, plans: list[MessagePlan]) -> None:
        """Called with each run's plans as they are built: a platform writer makes them say only what its export
        can record (see writers/_platforms.py); other writers leave them alone."""

    def observe(self, plan: MessagePlan, ctx: CustomerContext) -> list[Obs]:
        """Canonical mail events this writer's file yields for the plan (none for platform files)."""
        return []

    def write(self, path: Path, plans: list[MessagePlan], ctx: CustomerContext) -> bool:  # pragma: no cover
        """Write the file; False (and no file) when the customer has nothing in this format."""
        raise NotImplementedError


_MODULES = (
    "phishsim_csv",
    "phishsim_learners_csv",
    "proofpoint_pod_json",
    "m365_message_trace",
    "defender_email_events",
    "defender_post_delivery",
    "gmail_bigquery_json",
    "exchange_msgtrk",
    "postfix_log",
    "m365_timaildata_json",
    "m365_inbox_rules_json",
    "abnormal_threats_json",
    "mimecast_siem",
    "cisco_esa_text",
    "proofpoint_tap_json",
    "gophish_results_csv",
    "gophish_events_csv",
    "knowbe4_recipients_json",
    "ms_ast_csv",
)


def writers() -> dict[str, Writer]:
    found: dict[str, Writer] = {}
    for mod in _MODULES:
        module = importlib.import_module(f"{__name__}.{mod}")
        found[module.WRITER.format] = module.WRITER
    return found
