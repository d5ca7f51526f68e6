"""Planted cases for the customers of profiles_filters (catalogue entries with needs='profile').

* `filter_released`: the filter quarantined the message and an administrator released it minutes later;
  it was then handed on and delivered (Cisco ESA logs the release and re-issues the message under a new
  MID; Mimecast logs only the later delivery, so the release is inferred from the server's delivery).
* `delivered_late_scanner`: delivered, then a link scanner (a listed Microsoft address) follows the link
  minutes later: only the client address the platform or the filter's click log records shows it is
  automated, the timing does not.
* `delivered_late_scanner_ua`: the same with an address not in the scanner list and a scanner user agent
  (platforms that export the full user agent: GoPhish events, TAP clicks).
* `interacted_click_blocked`: delivered; the recipient clicks and the filter's URL protection blocks the
  click, so the platform never sees it and only the filter's click log has it (sometimes after an open).
"""

from __future__ import annotations

from datetime import timedelta

from phishtrace.samples.model import FilterFacts, Interaction, MessagePlan
from phishtrace.samples.scenarios import HUMAN_UA, SCANNER_IPS, SCANNER_UA, SCENARIOS, Builder, Scenario, whole

# user agents of automated clients that scanners.csv lists (substrings HeadlessChrome, python-requests, Go-http-client)
SCRIPT_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/118.0.5993.70 Safari/537.36",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
)
# an ordinary desktop browser string: a scanner that only its address gives away
PLAIN_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
            "Safari/537.36")
CLOUD_IPS = ("34.{}.{}.{}", "3.{}.{}.{}", "20.{}.{}.{}")  # addresses the scanner list does not name


def filter_released(b: Builder, p: MessagePlan) -> None:
    assert p.sent_at is not None
    t = p.sent_at + b.secs(1.5, 8)
    released = t + timedelta(minutes=b.rng.uniform(10, 90))
    handoff = released + b.secs(0.5, 3)
    p.filter = FilterFacts("quarantined", t, folder="Policy", rule="policy", handoff="sent", handoff_ts=handoff,
                           qid=b.qid(), guid=b.guid32(), released_ts=released)
    b.accepted(p, t)
    logged, mailbox = b.which_logs("released")
    b.server(p, handoff + b.secs(0.3, 2), "delivered", logged=logged, mailbox=mailbox)


def _late_scanner(b: Builder, p: MessagePlan, ip: str, ua: str) -> None:
    t = b.arrive(p)
    s = b.server(p, t, "delivered")
    clicked = whole(max(s.ts, s.mailbox_ts or s.ts)) + timedelta(minutes=b.rng.uniform(2, 45))
    p.interactions.append(Interaction("clicked", whole(clicked), ip, ua, human=False))


def delivered_late_scanner(b: Builder, p: MessagePlan) -> None:
    ip = b.rng.choice(SCANNER_IPS).format(b.randint(0, 255), b.randint(1, 254))
    _late_scanner(b, p, ip, b.cycle("late_scanner_ua", (PLAIN_UA, *SCANNER_UA)))


def delivered_late_scanner_ua(b: Builder, p: MessagePlan) -> None:
    ip = b.rng.choice(CLOUD_IPS).format(b.randint(1, 250), b.randint(0, 255), b.randint(1, 254))
    _late_scanner(b, p, ip, b.cycle("late_scanner_script", SCRIPT_UA))


def interacted_click_blocked(b: Builder, p: MessagePlan) -> None:
    t = b.arrive(p)
    assert p.filter is not None, "needs a filter with URL protection"
    logged, mailbox = b.which_logs("click_blocked")
    s = b.server(p, t, "delivered", logged=logged, mailbox=mailbox)
    ip, ua = b.human_ip(), b.rng.choice(HUMAN_UA)
    base = max(s.ts, s.mailbox_ts or s.ts)
    if b.cycle("click_blocked_open", (True, False)):
        opened = base + timedelta(minutes=b.rng.uniform(4, 300))
        p.interactions.append(b.human("opened", opened, ip, ua))
        clicked = opened + b.secs(15, 1200)
    else:
        clicked = base + timedelta(minutes=b.rng.uniform(5, 300))
    p.filter.blocked_clicks.append(b.human("clicked", clicked, ip, ua))


SCENARIOS.update({
    "filter_released": Scenario(filter_released, ("delivered", "none"), 3, needs="profile"),
    "delivered_late_scanner": Scenario(delivered_late_scanner, ("delivered", "none"), 3, needs="profile"),
    "delivered_late_scanner_ua": Scenario(delivered_late_scanner_ua, ("delivered", "none"), 2, needs="profile"),
    "interacted_click_blocked": Scenario(interacted_click_blocked, ("interacted", "none"), 2, needs="profile"),
})
