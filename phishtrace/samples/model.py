"""Vendor-neutral plan of one simulated message: the path it took through every hop.

A plan records facts (what the filter, the server and the mailbox did, and when; what the recipient
or a scanner did), never a vendor's wording. Writers in `phishtrace.samples.writers` render plans
into real export formats and report, per plan, the canonical mail events (docs/architecture.md)
their file will yield once loaded; `phishtrace.samples.rules` turns those into the expected outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

# platform statuses in the order a message moves through them (DESIGN.md §2.1)
STATUSES = ("Scheduling", "Scheduled", "Sent", "Delivered", "Bounced", "Opened", "Phished", "Replied", "Entered Data")
# interaction kind -> platform status it raises the message to
INTERACTION_STATUS = {"opened": "Opened", "clicked": "Phished", "replied": "Replied", "entered_data": "Entered Data"}


class Obs(NamedTuple):
    """One canonical mail event a writer's file yields for a plan (what the loaders will stage)."""

    hop: str  # the source's hop
    verdict_hop: str  # the hop whose decision it records
    action: str  # canonical action vocabulary
    ts: datetime
    location: str | None = None
    ip: str | None = None  # click source address the file records (filter click logs), None when it has none
    user_agent: str | None = None  # click user agent the file records


@dataclass(slots=True)
class Learner:
    email: str  # as the platform stores it (letter case kept)
    first_name: str
    last_name: str
    bounced: bool = False
    bounced_at: datetime | None = None
    bounce_reason: str = ""

    @property
    def address(self) -> str:
        return self.email.lower()


@dataclass(slots=True)
class Interaction:
    kind: str  # opened | clicked | replied | entered_data | reported
    ts: datetime
    ip: str
    user_agent: str
    human: bool
    shown_ip: str | None = None  # the client address as the platform's export gives it (None: not exported)
    shown_ua: str | None = None  # the user-agent text the platform's staging view carries (None: not exported)


@dataclass(slots=True)
class FilterFacts:
    """What the third-party filter in front of the server did with the message."""

    verdict: str  # passed | quarantined | dropped | rejected | deferred
    ts: datetime
    folder: str | None = None  # quarantine folder (Phish, Bulk); for an audit copy, the copy's folder
    rule: str | None = None  # quarantine rule (phish, bulk) or 'audit' (a copy; the message went on)
    handoff: str | None = None  # SMTP hand-off to the server: sent | deferred | refused | None (not tried)
    handoff_ts: datetime | None = None
    qid: str = ""
    guid: str = ""
    released_ts: datetime | None = None  # released from quarantine at this time, then handed on (handoff)
    blocked_clicks: list[Interaction] = field(default_factory=list)  # clicks its URL protection blocked


@dataclass(slots=True)
class ServerFacts:
    """What the mail server (Exchange Online) decided, and which of its logs recorded it."""

    verdict: str  # delivered | junked | quarantined | failed | pending
    ts: datetime
    logged: bool = True  # the server's message log (message trace) has a row
    spam_as_filtered: bool = False  # a junked message shows as filtered-as-spam there (else as delivered)
    mailbox_logged: bool = True  # the mailbox-security log (EmailEvents) has the delivery record
    mailbox_ts: datetime | None = None
    moved_by_rule: bool = False  # delivered, then a user rule moved it to Deleted items
    removed_ts: datetime | None = None  # post-delivery removal (ZAP) time
    network_id: str = ""


@dataclass(slots=True)
class MessagePlan:
    customer: str
    campaign: str
    run: str
    run_start: datetime
    run_end: datetime | None
    learner: Learner
    sender: str
    subject: str
    scenario: str  # the planted case (documentation and self-check)
    expected: tuple[str, str]  # (outcome, stuck_at) the scenario is meant to produce
    scheduled_at: datetime | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None  # platform's own Delivered At (a delivery notification)
    bounced_at: datetime | None = None
    bounce_reason: str = ""
    message_id: str = ""  # without angle brackets; empty when never sent
    tz_index: int = 0  # which offset the export renders this row's timestamps in
    msgid_brackets: bool = False  # export writes the Message ID with <>
    filter: FilterFacts | None = None
    server: ServerFacts | None = None
    interactions: list[Interaction] = field(default_factory=list)

    @property
    def recipient(self) -> str:
        return self.learner.address

    @property
    def email(self) -> str:
        return self.learner.email

    def first(self, kind: str) -> datetime | None:
        times = [i.ts for i in self.interactions if i.kind == kind]
        return min(times) if times else None

    @property
    def status(self) -> str:
        """Furthest platform status reached (DESIGN.md §2.1)."""
        best = None
        for i in self.interactions:
            st = INTERACTION_STATUS.get(i.kind)
            if st and (best is None or STATUSES.index(st) > STATUSES.index(best)):
                best = st
        if best:
            return best
        if self.bounced_at is not None:
            return "Bounced"
        if self.delivered_at is not None:
            return "Delivered"
        if self.sent_at is not None:
            return "Sent"
        if self.scheduled_at is not None:
            return "Scheduled"
        return "Scheduling"

    def times(self) -> list[datetime]:
        """Every platform timestamp of this row (for the customer's as_of)."""
        out = [self.run_start]
        for t in (self.run_end, self.scheduled_at, self.sent_at, self.delivered_at, self.bounced_at):
            if t is not None:
                out.append(t)
        out.extend(i.ts for i in self.interactions)
        return out
