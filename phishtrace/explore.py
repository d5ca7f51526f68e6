"""The incident explorer (notebooks/incident_explorer.ipynb): one recipient's outcome, timeline across
hops and every event logged for it, then the other recipients with the same outcome to pivot to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from phishtrace import charts
from phishtrace import report_html as H
from phishtrace.errors import PhishtraceError
from phishtrace.report_sections import _show, open_workspace

EVENT_COLUMNS = {"event_ts": "time (UTC)", "hop": "hop", "action": "action", "location": "location",
                 "raw_status": "vendor status", "reason": "reason", "file": "file", "source_row": "line",
                 "source_format": "format", "match_method": "matched by", "campaign": "campaign", "run": "run"}
OUTCOME_COLUMNS = {"campaign": "campaign", "run": "run", "outcome": "outcome", "stuck_at": "stopped at",
                   "evidence_source": "evidence source", "evidence_row": "line", "evidence_ts": "evidence time",
                   "evidence_detail": "evidence", "match_method": "matched by", "next_step": "next step"}
PEER_COLUMNS = {"recipient": "recipient", "campaign": "campaign", "run": "run", "outcome": "outcome",
                "stuck_at": "stopped at", "evidence_ts": "evidence time", "evidence_detail": "evidence"}


@dataclass
class Case:
    customer: str
    recipient: str
    as_of: datetime | None
    outcome: pl.DataFrame   # the recipient's rows of fct_recipient_outcomes (one per campaign run)
    trace: pl.DataFrame     # every event for the address (Workspace.trace), with the source file name
    peers: pl.DataFrame     # other recipients with one of the same (outcome, stuck_at)


def _normalise(address: str) -> str:
    return address.strip().strip("<>").lower()


def pick_recipient(outcomes: pl.DataFrame) -> str | None:
    """A recipient worth a look: the first that did not reach the inbox (in hop order), else the first."""
    if not outcomes.height:
        return None
    hop = {h: i for i, h in enumerate(charts.HOPS)}
    ranked = outcomes.with_columns(
        pl.col("stuck_at").replace_strict(hop, default=len(hop), return_dtype=pl.Int64).alias("_h")
    ).sort(["_h", "recipient"])
    return ranked["recipient"][0]


def open_case(db: str | None = None, customer: str | None = None, recipient: str | None = None,
              as_of: str | None = None, max_peers: int = 500) -> Case:
    """Load one recipient's case (customer: the first loaded when None; recipient: see pick_recipient)."""
    with open_workspace(db) as ws:
        customers = ws.customers()
        if not customers:
            raise PhishtraceError("the workspace has no data loaded")
        customer = customer or customers[0]
        if customer not in customers:
            raise PhishtraceError(f"no data loaded for customer {customer!r}")
        if as_of:
            from phishtrace.timeparse import parse_iso
            ws.configure(as_of=parse_iso(as_of))
        outcomes = ws.outcomes(customer)
        address = _normalise(recipient) if recipient else pick_recipient(outcomes)
        if address is None:
            raise PhishtraceError(f"customer {customer!r} has no campaign recipients")
        mine = outcomes.filter(pl.col("recipient") == address)
        trace = ws.trace(address, customer)
        if not mine.height and not trace.height:
            raise PhishtraceError(f"nothing is known about {address} for customer {customer!r}")
        files = ws.manifest(customer).select(
            "load_id", pl.col("path").map_elements(lambda p: Path(p).name, return_dtype=pl.Utf8).alias("file"))
        trace = trace.join(files, on="load_id", how="left")
        pairs = mine.select("outcome", "stuck_at").unique()
        peers = (outcomes.join(pairs, on=["outcome", "stuck_at"], how="semi")
                 .filter(pl.col("recipient") != address).sort("outcome", "recipient").head(max_peers))
        shown_as_of = ws.as_of(customer)
    return Case(customer=customer, recipient=address, as_of=shown_as_of, outcome=mine, trace=trace, peers=peers)


def header(case: Case):
    return _show(f"<h1>{H.esc(case.recipient)}</h1>"
                 f'<p class="pt-meta">customer {H.esc(case.customer)} · as of {H.esc(case.as_of)}</p>')


def outcome(case: Case):
    return _show(H.table(case.outcome, OUTCOME_COLUMNS, empty="Not a recipient of any loaded campaign."))


def timeline(case: Case):
    chart = charts.timeline_chart(case.trace)
    return _show(H.figure(charts.to_svg(chart) if chart is not None else None, "timeline",
                          "Circles: events matched to the campaign message; crosses: events for the address "
                          "that matched no message."))


def events(case: Case):
    return _show(H.table(case.trace, EVENT_COLUMNS, empty="No event was logged for this address."))


def peers(case: Case):
    note = (f'<p class="pt-note">{case.peers.height} other recipient(s) with the same outcome; set '
            "<code>recipient</code> to one of them and run the notebook again to pivot.</p>")
    return _show(note + H.table(case.peers, PEER_COLUMNS, empty="No other recipient has this outcome."))
