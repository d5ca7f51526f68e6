"""What GoPhish, KnowBe4 and attack simulation training can record, and helpers their writers share.

A plan is built for the PhishSim status model (model.STATUSES). A platform writer's `fit()` rewrites
the plans of one run so that they say exactly what its export says (the rules then compute the truth
from that), following each platform's loader and staging views:

* GoPhish (formats.md §1.1; gophish loader): campaign = run = one GoPhish campaign per run (its
  ' - Results.csv' / ' - Events.csv' files); `Email Sent` = the relay accepted it; no delivered state
  (a filter or server bounce never reaches GoPhish: its relay accepted the message), `Error` = the relay
  refused it (5xx) = bounced at the platform; no Scheduling state (a launched campaign's unsent rows are
  `Sending`; scheduling_stalled cannot occur: a stuck run 3 is unverified/platform); no replies; client
  address and user agent on every tracked request; no bounced-learner list.
* KnowBe4 (§1.2): campaign = run = the phishing security test id; `delivered_at` is the only send time
  (set whenever the first hop accepted the message), `bounced_at` from the DSN; one timestamp per kind;
  ip / browser / os only for the click; no Scheduling state; no bounced-learner list.
* Attack simulation training (§1.4): campaign = run = the simulation (one export per simulation); delivery
  is binary (SuccessfullyDelivered / FailedToDeliver, else unknown); no scheduled state (an unsent user
  shows no times: unverified/platform); one timestamp per kind; IP / browser / device for link clicks and
  credential entry.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from phishtrace.samples.model import Interaction, MessagePlan

B62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
UNSENT = ("unverified", "platform")  # what a row the platform never sent, and that is not held, comes to


def run_number(run: str) -> int:
    m = re.search(r"(\d+)\s*$", run)
    return int(m.group(1)) if m else 1


def gophish_campaign(campaign: str, run: str) -> str:
    """One GoPhish campaign per run: its name (the export file names start with it)."""
    return f"{campaign} - {run}"


def ast_simulation(campaign: str, run: str) -> str:
    return f"{campaign} ({run})"


def pst_id(customer: str, run: str) -> str:
    """KnowBe4 phishing security test id of a run (stable per customer)."""
    base = 8_800_000 + int(hashlib.md5(customer.encode()).hexdigest()[:5], 16) % 900_000
    return str(base + 7 * run_number(run))


def rid_of(plan: MessagePlan) -> str:
    """The per-recipient GoPhish RId (7 characters [A-Za-z0-9]), stable for campaign x recipient."""
    n = int(hashlib.md5(f"{plan.customer}|{plan.run}|{plan.recipient}".encode()).hexdigest(), 16)
    return "".join(B62[(n >> (6 * i)) % 62] for i in range(7))


def landing_url(plan: MessagePlan, gophish: bool) -> str:
    """The simulation link as the recipient's mail carries it: GoPhish adds ?rid=<RId>."""
    host = "login." + plan.sender.split("@", 1)[1]
    if gophish:
        return f"https://{host}/account/verify?rid={rid_of(plan)}"
    token = hashlib.md5(f"{plan.customer}|{plan.run}|{plan.recipient}|link".encode()).hexdigest()[:16]
    return f"https://{host}/l/{token}"


def browser_of(ua: str) -> tuple[str, str, str, str]:
    """(browser, version, os as KnowBe4 names it, device as attack simulation training names it)."""
    if "Microsoft Outlook" in ua or "Microsoft Office" in ua:
        return "Outlook", "16.0", "windows", "Windows"
    if m := re.search(r"Edg/(\d+)", ua):
        return "Edge", m.group(1), "windows", "Windows"
    if "iPhone" in ua:
        return "Safari", "17.4", "ios", "iPhone"
    if "Macintosh" in ua and "Chrome/" not in ua:
        return "Safari", "17.4", "mac", "Mac"
    if m := re.search(r"HeadlessChrome/(\d+)", ua):
        return "HeadlessChrome", m.group(1), "linux", "Linux"
    if m := re.search(r"Chrome/(\d+)", ua):
        return "Chrome", m.group(1), "windows", "Windows"
    return "Other", "", "", "Other"


def knowbe4_agent(ua: str) -> str:
    """The user-agent text stg_knowbe4_recipients_json__interactions builds: 'browser version (os)'."""
    browser, version, os_name, _ = browser_of(ua)
    return " ".join(x for x in (browser, version, f"({os_name})" if os_name else "") if x)


def ast_agent(ua: str) -> str:
    """The user-agent text stg_ms_ast_csv__interactions builds: 'Browser (Device)'."""
    browser, _, _, device = browser_of(ua)
    return f"{browser} ({device})"


def first_of_each_kind(interactions: list[Interaction]) -> list[Interaction]:
    """A platform that keeps one timestamp per kind keeps the first one."""
    seen: set[str] = set()
    out = []
    for i in sorted(interactions, key=lambda i: i.ts):
        if i.kind not in seen:
            seen.add(i.kind)
            out.append(i)
    return out


def _unsent(p: MessagePlan) -> None:
    """A row the platform never sent and has no Scheduling state for: Scheduled since the run started."""
    if p.scheduled_at is None:
        p.scheduled_at = p.run_start
        p.expected = UNSENT


def fit_gophish(b, plans: list[MessagePlan]) -> None:
    rng = b.rng
    for p in plans:
        p.campaign = p.run = gophish_campaign(b.profile.campaign, p.run)
        p.run_end = None
        p.delivered_at = None
        if p.bounced_at is not None and p.scenario != "bounced_platform":
            p.bounced_at, p.bounce_reason = None, ""  # the DSN went to the relay, not to GoPhish
        _unsent(p)
        if p.sent_at is not None:  # Go time.Now(): a fraction of a second
            p.sent_at += timedelta(microseconds=rng.randrange(1, 1_000_000))
            nano = int(p.sent_at.timestamp()) * 1_000_000_000 + p.sent_at.microsecond * 1000 + rng.randrange(1000)
            p.message_id = f"{nano}.{rng.randrange(1000, 40000)}.{rng.getrandbits(63)}@gophish-01"
        kept = []
        for i in p.interactions:
            if i.kind == "replied":  # GoPhish cannot see replies
                continue
            i.ts += timedelta(microseconds=rng.randrange(1, 1_000_000))
            i.shown_ip, i.shown_ua = i.ip, i.user_agent
            kept.append(i)
        p.interactions = kept


def fit_knowbe4(b, plans: list[MessagePlan]) -> None:
    for p in plans:
        p.campaign = p.run = pst_id(b.profile.name, p.run)
        p.run_end = None
        _unsent(p)
        if p.sent_at is not None and p.scenario != "bounced_platform" and p.delivered_at is None:
            accepted = p.filter.ts if p.filter is not None else p.sent_at + timedelta(seconds=2)
            p.delivered_at = accepted.replace(microsecond=0) + timedelta(seconds=1)
        p.interactions = first_of_each_kind(p.interactions)
        for i in p.interactions:
            if i.kind == "clicked":
                i.shown_ip, i.shown_ua = i.ip, knowbe4_agent(i.user_agent)


def fit_ast(b, plans: list[MessagePlan]) -> None:
    for p in plans:
        p.campaign = p.run = ast_simulation(b.profile.campaign, p.run)
        p.run_end = None
        if p.sent_at is None:  # no scheduled state: the row shows no times, as a sent one without result
            p.scheduled_at = p.scheduled_at or p.run_start
            p.sent_at = p.run_start
            p.expected = UNSENT
        elif p.scenario != "bounced_platform" and p.server is not None:
            p.delivered_at = p.server.ts.replace(microsecond=0) + timedelta(seconds=1)
        elif p.scenario != "bounced_platform" and p.filter is not None and p.delivered_at is None:
            p.delivered_at = p.filter.ts.replace(microsecond=0) + timedelta(seconds=1)
        p.interactions = first_of_each_kind(p.interactions)
        for i in p.interactions:
            if i.kind in ("clicked", "entered_data"):
                i.shown_ip, i.shown_ua = i.ip, ast_agent(i.user_agent)
