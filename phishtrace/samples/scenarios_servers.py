"""Planted cases for the customers of `profiles_servers`, beyond the catalogue of `scenarios.py`.

They cover paths that only these customers' logs can show: the mail server itself refuses or relays
the message (no filter in front), a delivery that succeeds after a deferred attempt, a server
quarantine that is released, spam moved back to the Inbox, a user's filing rule (more of them, so
each kind of rule evidence occurs), and a filter quarantine whose release was not logged (the server's delivery supersedes it). Each case has `needs='profile'`: only a profile
that lists it in `Profile.scenarios` plants it, so the default customers never change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from phishtrace.samples.model import FilterFacts, MessagePlan, ServerFacts
from phishtrace.samples.scenarios import SCENARIOS, Builder, Scenario, whole


@dataclass(slots=True)
class HopFacts(ServerFacts):
    """ServerFacts with the extra facts of these cases (writers read them with getattr)."""

    retry_ts: datetime | None = None  # a first delivery attempt that was deferred (then delivered at ts)
    undo_ts: datetime | None = None  # quarantine released / spam moved back to the Inbox at this time


def _facts(b: Builder, p: MessagePlan, verdict: str, t: datetime, **kw) -> HopFacts:
    p.server = HopFacts(verdict, t, mailbox_ts=whole(t) + timedelta(seconds=b.randint(0, 1)), network_id=b.guid(),
                        **kw)
    return p.server


def bounced_at_server(b: Builder, p: MessagePlan) -> None:
    """No filter in front: the customer's own server refuses the message (unknown user, full mailbox)."""
    assert p.sent_at is not None
    t = p.sent_at + b.secs(1, 5)
    _facts(b, p, "rejected", t)
    if b.cycle("server_bounce_dsn", (True, True, False)):  # the refusal reached the platform as a bounce
        p.bounced_at = whole(t) + timedelta(seconds=b.randint(1, 3))
        p.bounce_reason = "550 5.1.1 Recipient address rejected: User unknown"


def server_relayed(b: Builder, p: MessagePlan) -> None:
    """The server hands the message on to another system whose logs are not loaded."""
    _facts(b, p, "relayed", b.arrive(p))


def delivered_after_retry(b: Builder, p: MessagePlan) -> None:
    """The first delivery attempt is deferred (mailbox busy), the queue's retry 5-7 minutes later delivers."""
    t = b.arrive(p)
    _facts(b, p, "delivered", t + b.secs(300, 420), retry_ts=t)


def quarantine_released(b: Builder, p: MessagePlan) -> None:
    """Quarantined by the server, released by an administrator later: delivered."""
    t = b.arrive(p)
    _facts(b, p, "quarantined", t, undo_ts=whole(t + timedelta(hours=b.rng.uniform(0.5, 6))))


def junk_then_inbox(b: Builder, p: MessagePlan) -> None:
    """Filed as spam, moved back to the Inbox later (by the user, or a release of the junk verdict)."""
    t = b.arrive(p)
    _facts(b, p, "junked", t, spam_as_filtered=True, undo_ts=whole(t + timedelta(minutes=b.rng.uniform(20, 300))))


def moved_by_user_rule(b: Builder, p: MessagePlan) -> None:
    """Delivered, then a user's rule (Sieve, a Gmail filter, an Outlook inbox rule) files it away."""
    _facts(b, p, "delivered", b.arrive(p), moved_by_rule=True)


def filter_released_unlogged(b: Builder, p: MessagePlan) -> None:
    """The filter quarantined it; an administrator released it (the filter export has no release record),
    and the server delivered it hours later: the later hop's delivery supersedes the quarantine."""
    assert p.sent_at is not None
    t = p.sent_at + b.secs(1.5, 8)
    folder, rule = b.cycle("released_folder", (("Bulk", "bulk"), ("Phish", "phish")))
    p.filter = FilterFacts("quarantined", t, folder=folder, rule=rule, qid=b.qid(), guid=b.guid32())
    b.accepted(p, t)
    _facts(b, p, "delivered", t + timedelta(hours=b.rng.uniform(1, 6)))


SERVER_SCENARIOS: dict[str, Scenario] = {
    "bounced_at_server": Scenario(bounced_at_server, ("bounced", "server"), 3, needs="profile"),
    "server_relayed": Scenario(server_relayed, ("unverified", "server"), 2, needs="profile"),
    "delivered_after_retry": Scenario(delivered_after_retry, ("delivered", "none"), 3, needs="profile"),
    "quarantine_released": Scenario(quarantine_released, ("delivered", "none"), 2, needs="profile"),
    "junk_then_inbox": Scenario(junk_then_inbox, ("delivered", "none"), 2, needs="profile"),
    "moved_by_user_rule": Scenario(moved_by_user_rule, ("moved_by_rule", "mailbox"), 3, needs="profile"),
    "filter_released_unlogged": Scenario(filter_released_unlogged, ("delivered", "none"), 2, needs="profile"),
}
for _name, _sc in SERVER_SCENARIOS.items():
    SCENARIOS.setdefault(_name, _sc)
