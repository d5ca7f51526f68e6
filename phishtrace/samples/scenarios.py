"""Planted cases: each fills a sent (or held) plan with the facts of one path through the hops.

Every scenario names the outcome (docs/outcomes.md §3) it is meant to produce; the truth itself is
computed by `phishtrace.samples.rules` from what the files say.
"""

from __future__ import annotations

import base64
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from phishtrace.samples.model import FilterFacts, Interaction, MessagePlan, ServerFacts
from phishtrace.samples.profiles import Profile

B62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
SCANNER_IPS = ("40.107.{}.{}", "40.94.{}.{}", "52.100.{}.{}")
SCANNER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/57.0.2987.133 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/101.0.4951.54 Safari/537.36",
)
HUMAN_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17531; Pro)",
)
PLATFORM_BOUNCES = (
    "550 5.1.1 <{addr}>: Recipient address rejected: User unknown in virtual mailbox table",
    "550 5.4.1 Recipient address rejected: Access denied",
    "554 5.4.14 Hop count exceeded - possible mail loop",
)


def whole(dt: datetime) -> datetime:
    return dt.replace(microsecond=0)


class Builder:
    """Fills plans for one customer with a seeded generator."""

    def __init__(self, rng: random.Random, profile: Profile):
        self.rng = rng
        self.profile = profile
        self._turns: dict[str, int] = {}
        self._clients = 0

    def cycle(self, key: str, options: tuple):
        """Variants in turn (not at random), so a small sample still holds every one of them."""
        n = self._turns.get(key, 0)
        self._turns[key] = n + 1
        return options[n % len(options)]

    # -- small helpers ---------------------------------------------------------------------
    def secs(self, lo: float, hi: float) -> timedelta:
        return timedelta(seconds=self.rng.uniform(lo, hi))

    def randint(self, lo: int, hi: int) -> int:
        """Like Random.randint (both ends included), cheaper."""
        return lo + int(self.rng.random() * (hi - lo + 1))

    def whole_secs(self, lo: int, hi: int) -> timedelta:
        return timedelta(seconds=self.randint(lo, hi))

    def guid32(self) -> str:
        """A PPS message GUID: 32 characters of the URL-safe base64 alphabet."""
        return base64.urlsafe_b64encode(self.rng.getrandbits(192).to_bytes(24, "big")).decode()

    def qid(self) -> str:
        """A sendmail queue id such as 27Q0O7ss000303."""
        bits = self.rng.getrandbits(48)
        head = "".join(B62[(bits >> (6 * i)) % 62] for i in range(8))
        return f"{head}{self.randint(0, 999999):06d}"

    def guid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128)))

    def human_ip(self) -> str:
        """A client address of its own per call (100.64.0.0/10), so no burst rule ever joins two humans."""
        self._clients += 1
        n = self._clients
        return f"100.{64 + (n >> 16) % 64}.{(n >> 8) & 255}.{n & 255}"

    def scanner(self, kind: str, ts: datetime) -> Interaction:
        ip = self.rng.choice(SCANNER_IPS).format(self.randint(0, 255), self.randint(1, 254))
        return Interaction(kind, ts, ip, self.rng.choice(SCANNER_UA), human=False)

    def human(self, kind: str, ts: datetime, ip: str, ua: str) -> Interaction:
        return Interaction(kind, whole(ts), ip, ua, human=True)

    def accepted(self, p: MessagePlan, t: datetime) -> None:
        """The first hop accepted the message: the platform may record Delivered."""
        if self.rng.random() < 0.6:
            p.delivered_at = whole(t) + timedelta(seconds=1)

    # -- hops ------------------------------------------------------------------------------
    def arrive(self, p: MessagePlan) -> datetime:
        """Pass the filter (when the customer has one); return when the server receives it."""
        assert p.sent_at is not None
        if self.profile.filter:
            t = p.sent_at + self.secs(1.5, 8)
            copy = self.cycle("audit_copy", (False, True, False))  # an audit copy in Bulk; the message goes on
            p.filter = FilterFacts("passed", t, folder="Bulk" if copy else None, rule="audit" if copy else None,
                                   handoff="sent", handoff_ts=t + self.secs(0.5, 3), qid=self.qid(), guid=self.guid32())
            self.accepted(p, t)
            return p.filter.handoff_ts + self.secs(0.3, 2)
        t = p.sent_at + self.secs(1, 5)
        self.accepted(p, t)
        return t

    def server(self, p: MessagePlan, t: datetime, verdict: str, logged: bool = True, mailbox: bool = True,
               spam_as_filtered: bool = False, moved: bool = False) -> ServerFacts:
        p.server = ServerFacts(verdict, t, logged=logged, spam_as_filtered=spam_as_filtered, mailbox_logged=mailbox,
                               mailbox_ts=whole(t) + timedelta(seconds=self.randint(0, 1)), moved_by_rule=moved,
                               network_id=self.guid())
        return p.server

    def which_logs(self, key: str) -> tuple[bool, bool]:
        """(server log has it, mailbox log has it): mostly both, sometimes only one of them."""
        return self.cycle(key, ((True, True), (True, True), (True, False), (True, True), (False, True)))

    def human_chain(self, p: MessagePlan, delivered: datetime, status: str) -> None:
        ip, ua = self.human_ip(), self.rng.choice(HUMAN_UA)
        opened = delivered + timedelta(minutes=self.rng.uniform(4, 300))
        p.interactions.append(self.human("opened", opened, ip, ua))
        if status in ("Phished", "Entered Data"):
            clicked = opened + self.secs(15, 1200)
            p.interactions.append(self.human("clicked", clicked, ip, ua))
            if status == "Entered Data":
                p.interactions.append(self.human("entered_data", clicked + self.secs(20, 300), ip, ua))
        if status == "Replied":
            p.interactions.append(self.human("replied", opened + self.secs(120, 1800), ip, ua))
        if self.rng.random() < 0.2:
            p.interactions.append(self.human("reported", opened + self.secs(60, 3600), ip, ua))


# -- scenarios: fn(builder, plan) -----------------------------------------------------------
def delivered(b: Builder, p: MessagePlan) -> None:
    t = b.arrive(p)
    logged, mailbox = b.which_logs("delivered")
    b.server(p, t, "delivered", logged=logged, mailbox=mailbox)
    if b.rng.random() < 0.15:  # reported without opening: a human signal that is not an interaction
        p.interactions.append(b.human("reported", t + timedelta(minutes=b.rng.uniform(10, 200)),
                                      b.human_ip(), b.rng.choice(HUMAN_UA)))


def delivered_scanner(b: Builder, p: MessagePlan) -> None:
    t = b.arrive(p)
    s = b.server(p, t, "delivered")
    p.interactions.append(b.scanner("clicked", whole(s.ts) + b.whole_secs(3, 20)))


def interacted(b: Builder, p: MessagePlan) -> None:
    t = b.arrive(p)
    logged, mailbox = b.which_logs("interacted")
    s = b.server(p, t, "delivered", logged=logged, mailbox=mailbox)
    b.human_chain(p, max(s.ts, s.mailbox_ts or s.ts), b.rng.choice(("Opened", "Phished", "Replied", "Entered Data")))


def removed_after_delivery(b: Builder, p: MessagePlan) -> None:
    t = b.arrive(p)
    s = b.server(p, t, "delivered", logged=b.cycle("removed", (True, True, False)), mailbox=True)
    s.removed_ts = whole(t + timedelta(hours=b.rng.uniform(1.5, 9)))
    if b.rng.random() < 0.3:  # opened before ZAP pulled it: still removed_after_delivery
        p.interactions.append(b.human("opened", t + timedelta(minutes=b.rng.uniform(5, 60)), b.human_ip(),
                                      b.rng.choice(HUMAN_UA)))


def moved_by_rule(b: Builder, p: MessagePlan) -> None:
    t = b.arrive(p)
    b.server(p, t, "delivered", logged=True, mailbox=True, moved=True)


def server_quarantined(b: Builder, p: MessagePlan, clicked: bool = False) -> None:
    t = b.arrive(p)
    logged, mailbox = b.which_logs("quarantined")
    s = b.server(p, t, "quarantined", logged=logged, mailbox=mailbox)
    if clicked:  # a detonation click on a quarantined message (platform says Phished)
        p.interactions.append(b.scanner("clicked", whole(s.ts) + b.whole_secs(5, 90)))


def server_junked(b: Builder, p: MessagePlan) -> None:
    t = b.arrive(p)
    # (server log row, mailbox row, server log says filtered-as-spam); a junked message the server log
    # shows as Delivered (it cannot tell Junk) needs the mailbox row to be junk at all
    logged, mailbox, filtered = b.cycle("junked", ((True, True, True), (True, True, False), (True, False, True)))
    b.server(p, t, "junked", logged=logged, mailbox=mailbox, spam_as_filtered=filtered)


def server_failed(b: Builder, p: MessagePlan) -> None:
    t = b.arrive(p)
    logged, mailbox = b.cycle("failed", ((True, True), (False, True), (True, False)))
    b.server(p, t, "failed", logged=logged, mailbox=mailbox)


def unverified_pending(b: Builder, p: MessagePlan) -> None:
    t = b.arrive(p)
    b.server(p, t, "pending", logged=True, mailbox=False)


def unverified_filter_only(b: Builder, p: MessagePlan) -> None:
    b.arrive(p)  # the filter handed it to the server, whose covered log has no record


def unverified_silent(b: Builder, p: MessagePlan) -> None:
    """Sent, and no log has it (also used for messages sent after the server export ended)."""
    if b.rng.random() < 0.5:
        p.delivered_at = p.sent_at + timedelta(seconds=b.randint(2, 6))


def filter_quarantined(b: Builder, p: MessagePlan, clicked: bool = False) -> None:
    t = p.sent_at + b.secs(1.5, 8)
    folder, rule = b.cycle("quarantine_folder", (("Phish", "phish"), ("Bulk", "bulk")))
    p.filter = FilterFacts("quarantined", t, folder=folder, rule=rule, qid=b.qid(), guid=b.guid32())
    b.accepted(p, t)
    if clicked:  # the filter's sandbox follows the link
        p.interactions.append(b.scanner("clicked", whole(t) + b.whole_secs(10, 120)))


def filter_dropped(b: Builder, p: MessagePlan) -> None:
    t = p.sent_at + b.secs(1.5, 8)
    p.filter = FilterFacts("dropped", t, qid=b.qid(), guid=b.guid32())
    b.accepted(p, t)


def filter_deferred(b: Builder, p: MessagePlan) -> None:
    t = p.sent_at + b.secs(1.5, 8)
    handoff = b.cycle("deferred", (True, False))
    p.filter = FilterFacts("deferred", t, handoff="deferred" if handoff else None,
                           handoff_ts=t + b.secs(30, 600) if handoff else None, qid=b.qid(), guid=b.guid32())


def bounced_filter(b: Builder, p: MessagePlan) -> None:
    t = p.sent_at + b.secs(1.5, 8)
    p.filter = FilterFacts("rejected", t, qid=b.qid(), guid=b.guid32())
    p.bounced_at = whole(t) + timedelta(seconds=1)
    p.bounce_reason = "550 5.7.1 Message rejected by policy"


def bounced_server(b: Builder, p: MessagePlan) -> None:
    t = p.sent_at + b.secs(1.5, 8)
    p.filter = FilterFacts("passed", t, handoff="refused", handoff_ts=t + b.secs(0.5, 3), qid=b.qid(),
                           guid=b.guid32())
    b.accepted(p, t)
    if b.cycle("dsn", (True, False, True)):  # the filter's DSN reached the platform
        p.bounced_at = whole(p.filter.handoff_ts) + b.whole_secs(30, 180)
        p.bounce_reason = "550 5.1.1 User unknown"


def bounced_platform(b: Builder, p: MessagePlan) -> None:
    assert p.sent_at is not None
    p.bounced_at = p.sent_at + b.whole_secs(1, 4)
    p.bounce_reason = b.rng.choice(PLATFORM_BOUNCES).format(addr=p.email)


def not_sent(b: Builder, p: MessagePlan) -> None:
    """Held in Scheduled (learner bounced, or the run ended) or stuck in Scheduling: nothing happens."""


@dataclass(frozen=True)
class Scenario:
    fn: Callable[[Builder, MessagePlan], None]
    expected: tuple[str, str]
    weight: int
    needs: str = ""  # 'filter' | 'no_filter' | 'late' | 'ended' (a run that has ended) | 'special' | 'profile'
    sends: bool = True


SCENARIOS: dict[str, Scenario] = {
    "delivered": Scenario(delivered, ("delivered", "none"), 24),
    "delivered_scanner": Scenario(delivered_scanner, ("delivered", "none"), 4),
    "interacted": Scenario(interacted, ("interacted", "none"), 16),
    "removed_after_delivery": Scenario(removed_after_delivery, ("removed_after_delivery", "mailbox"), 3),
    "moved_by_rule": Scenario(moved_by_rule, ("moved_by_rule", "mailbox"), 3),
    "server_quarantined": Scenario(server_quarantined, ("server_quarantined", "server"), 3),
    "server_quarantined_clicked": Scenario(lambda b, p: server_quarantined(b, p, clicked=True),
                                           ("server_quarantined", "server"), 1),
    "server_junked": Scenario(server_junked, ("server_junked", "server"), 3),
    "server_failed": Scenario(server_failed, ("server_failed", "server"), 3),
    "unverified_pending": Scenario(unverified_pending, ("unverified", "server"), 2),
    "bounced_platform": Scenario(bounced_platform, ("bounced", "platform"), 2),
    "held_run_ended": Scenario(not_sent, ("held_bounced_learner", "platform"), 2, needs="ended", sends=False),
    "filter_quarantined": Scenario(filter_quarantined, ("filter_quarantined", "filter"), 3, needs="filter"),
    "filter_quarantined_clicked": Scenario(lambda b, p: filter_quarantined(b, p, clicked=True),
                                           ("filter_quarantined", "filter"), 1, needs="filter"),
    "filter_dropped": Scenario(filter_dropped, ("filter_quarantined", "filter"), 1, needs="filter"),
    "filter_deferred": Scenario(filter_deferred, ("filter_deferred", "filter"), 2, needs="filter"),
    "bounced_filter": Scenario(bounced_filter, ("bounced", "filter"), 2, needs="filter"),
    "bounced_server": Scenario(bounced_server, ("bounced", "server"), 2, needs="filter"),
    "unverified_filter_only": Scenario(unverified_filter_only, ("unverified", "filter"), 2, needs="filter"),
    "unverified_no_record": Scenario(unverified_silent, ("unverified", "platform"), 1, needs="no_filter"),
    "unverified_late": Scenario(unverified_silent, ("unverified", "platform"), 2, needs="late"),
    "held_learner": Scenario(not_sent, ("held_bounced_learner", "platform"), 0, needs="special", sends=False),
    "scheduling_stalled": Scenario(not_sent, ("scheduling_stalled", "platform"), 0, needs="special", sends=False),
}


def eligible(profile: Profile, run_ended: bool, late: bool) -> list[str]:
    """Scenario names a run of this customer can plant, in catalogue order."""
    out = []
    for name, sc in SCENARIOS.items():
        need = sc.needs
        if need == "special" or (need == "filter" and not profile.filter) or (need == "no_filter" and profile.filter):
            continue
        if (need == "ended" and not run_ended) or (need == "late" and not late):
            continue
        if (need == "profile" and name not in profile.scenarios) or name in profile.skip:
            continue
        out.append(name)
    return out


from phishtrace.samples import scenarios_servers  # noqa: E402,F401  (adds its scenarios to SCENARIOS)
from phishtrace.samples import scenarios_filters  # noqa: E402,F401  (adds its scenarios to SCENARIOS)
