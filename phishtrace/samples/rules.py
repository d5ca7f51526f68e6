"""The outcome rules of docs/outcomes.md §2-§4, applied to one plan and the canonical events its files yield.

This is the generator's truth: it is computed from what the written files say (the writers'
observations), not from the scenario's intention, so a planted case that the files cannot support
shows up as a mismatch between `MessagePlan.expected` and `classify()`.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from importlib import resources

from phishtrace.samples.model import MessagePlan, Obs

STALL = timedelta(minutes=10)
HELD = timedelta(hours=24)
SCANNER = timedelta(seconds=60)

SEVERITY = {
    "deferred": 1, "relayed": 2, "passed": 3, "delivered": 4, "junked": 5, "moved_by_rule": 5,
    "dropped": 6, "removed_post_delivery": 6, "quarantined": 7, "rejected": 8, "bounced": 8,
}
NOT_DECISIVE = {"received", "clicked", "clicked_blocked", "rule_created", "released", "redelivered"}
HOPS = ("filter", "server", "mailbox")
NEGATIVE = {"quarantined", "dropped", "deferred", "junked"}
# a later hop's events that show the message got past an earlier hop's negative state (outcomes.md §2)
SUPERSEDES = {"filter": None, "server": {"delivered", "redelivered"}}  # None: any decisive event
MAIL_DELIVERY = {"delivered", "junked", "moved_by_rule", "redelivered"}
NEVER_DELIVERED = {"quarantined", "dropped", "junked", "rejected", "bounced"}
HUMAN_KINDS = {"opened", "clicked", "replied", "entered_data"}
RELEASE_STATE = {"filter": "passed", "server": "delivered", "mailbox": "delivered"}


def hop_states(obs: list[Obs]) -> dict[str, Obs | None]:
    """Per verdict hop, the deciding event (outcomes.md §2), None when the hop has no decisive event."""
    states: dict[str, Obs | None] = {}
    for hop in HOPS:
        decisive = [o for o in obs if o.verdict_hop == hop and o.action not in NOT_DECISIVE]
        if not decisive:
            states[hop] = None
            continue
        top = max(decisive, key=lambda o: (SEVERITY[o.action], o.ts))
        released = any(o.verdict_hop == hop and o.action in ("released", "redelivered") and o.ts >= top.ts for o in obs)
        if released:
            top = top._replace(action=RELEASE_STATE[hop], location="inbox" if hop != "filter" else None)
        states[hop] = top
    # a negative state is superseded by a later hop's delivery after it (an unlogged release)
    for i, hop in enumerate(HOPS):
        top = states[hop]
        if top is None or top.action not in NEGATIVE:
            continue
        wanted = SUPERSEDES.get(hop, set())
        later = [o for o in obs if o.verdict_hop in HOPS[i + 1:] and o.ts > top.ts
                 and (o.action in wanted if wanted is not None else o.action not in NOT_DECISIVE)]
        if later:
            states[hop] = top._replace(action=RELEASE_STATE[hop])
    return states


_SCANNERS: tuple[tuple[str, ...], tuple[str, ...]] | None = None


def scanner_patterns() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(IP prefixes, lower-case user-agent substrings) of phishtrace/data/scanners.csv, as ref_scanners holds them."""
    global _SCANNERS
    if _SCANNERS is None:
        text = (resources.files("phishtrace") / "data" / "scanners.csv").read_text(encoding="utf-8")
        rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
        _SCANNERS = (tuple(r["pattern"] for r in rows if r["kind"] == "ip_prefix"),
                     tuple(r["pattern"].lower() for r in rows if r["kind"] == "user_agent"))
    return _SCANNERS


def _judge(plan: MessagePlan, obs: list[Obs], states: dict[str, Obs | None]):
    """fn(ts, ip, user_agent) -> True when outcomes.md §4 calls such an interaction automated (the burst rule,
    which needs other recipients, is not applied: no planted case has one address on several recipients)."""
    deliveries = [o.ts for o in obs if o.action in MAIL_DELIVERY and o.verdict_hop in ("server", "mailbox")]
    mail_delivery = min(deliveries) if deliveries else None
    anchor = mail_delivery or plan.delivered_at or plan.sent_at
    blocked = any(s is not None and s.action in NEVER_DELIVERED for h, s in states.items() if h in ("filter", "server"))
    prefixes, agents = scanner_patterns()

    def judge(ts: datetime, ip: str | None, user_agent: str | None) -> bool:
        if blocked or (mail_delivery is not None and ts < mail_delivery):
            return True
        if anchor is not None and ts - anchor <= SCANNER:
            return True
        if ip and any(ip.startswith(p) for p in prefixes):
            return True
        return bool(user_agent) and any(a in user_agent.lower() for a in agents)

    return judge


def automated(plan: MessagePlan, obs: list[Obs], states: dict[str, Obs | None]) -> list[bool]:
    """Per plan interaction: True when outcomes.md §4 calls it automated. Only the client address and user
    agent the platform exports (`shown_ip` / `shown_ua`) are checked against the scanner list."""
    judge = _judge(plan, obs, states)
    return [judge(i.ts, i.shown_ip, i.shown_ua) for i in plan.interactions]


def filter_clicks(plan: MessagePlan, obs: list[Obs], states: dict[str, Obs | None]) -> list[tuple[Obs, bool]]:
    """Clicks a filter's URL log recorded for the plan (also interactions, §4), each with its automated flag."""
    judge = _judge(plan, obs, states)
    return [(o, judge(o.ts, o.ip, o.user_agent)) for o in obs if o.action in ("clicked", "clicked_blocked")]


def classify(plan: MessagePlan, obs: list[Obs], as_of: datetime, learner_bounced: bool) -> tuple[str, str]:
    """(outcome, stuck_at) by the first rule of outcomes.md §3 that applies."""
    status = plan.status
    sent = plan.sent_at is not None
    if status == "Scheduling" and not sent and as_of > plan.run_start + STALL:
        return "scheduling_stalled", "platform"
    if not sent and status == "Scheduled":
        since = plan.scheduled_at or plan.run_start
        if learner_bounced or (plan.run_end is not None and plan.run_end < as_of) or as_of > since + HELD:
            return "held_bounced_learner", "platform"
    bounces = [o for o in obs if o.action in ("rejected", "bounced")]
    if bounces:
        return "bounced", max(bounces, key=lambda o: o.ts).verdict_hop
    if status == "Bounced" or plan.bounced_at is not None:
        return "bounced", "platform"
    states = hop_states(obs)
    f, s, m = states["filter"], states["server"], states["mailbox"]
    if f is not None and f.action in ("quarantined", "dropped"):
        return "filter_quarantined", "filter"
    if f is not None and f.action == "deferred":
        return "filter_deferred", "filter"
    if s is not None and s.action == "quarantined":
        return "server_quarantined", "server"
    if s is not None and s.action == "junked":
        return "server_junked", "server"
    if s is not None and s.action == "dropped":
        return "server_failed", "server"
    if m is not None and m.action == "removed_post_delivery":
        return "removed_after_delivery", "mailbox"
    # an observed rule_created event is a matching inbox-rule record (writers report only those)
    rule = any(o.action == "rule_created" for o in obs) and (m is None or m.action != "delivered")
    if (m is not None and m.action == "moved_by_rule") or (
        s is not None and s.action == "delivered" and s.location in ("other_folder", "deleted")
    ) or rule:
        return "moved_by_rule", "mailbox"
    auto = automated(plan, obs, states)
    if any(i.kind in HUMAN_KINDS and not a for i, a in zip(plan.interactions, auto)) or any(
            not a for _, a in filter_clicks(plan, obs, states)):
        return "interacted", "none"
    if any(x is not None and x.action == "delivered" and x.location in (None, "inbox") for x in (s, m)):
        return "delivered", "none"
    with_evidence = [h for h in HOPS if states[h] is not None]  # hops with a decisive event (a hop state)
    return "unverified", with_evidence[-1] if with_evidence else "platform"
