"""`phishtrace samples generate`: a seeded campaign per customer across all hops, plus truth.csv.

Layout written under `out_dir`:
    <customer>/<file per writer of the customer's profile>
    truth.csv   customer,campaign,run,recipient,outcome,stuck_at (one row per campaign-export row)

Per customer: run 1 (ended), run 2 (still running; re-mails some learners, holds the learners
flagged bounced in run 1) and run 3 (stuck in Scheduling). The truth is computed from what the files
say by `phishtrace.samples.rules` (docs/outcomes.md).
"""

from __future__ import annotations

import csv
import random
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from phishtrace.errors import PhishtraceError
from phishtrace.samples.model import Learner, MessagePlan, Obs
from phishtrace.samples.profiles import CustomerContext, Profile, profile_for
from phishtrace.samples.rules import classify
from phishtrace.samples.scenarios import SCENARIOS, Builder, eligible, whole
from phishtrace.samples.writers import writers

UTC = timezone.utc
DEFAULT_CUSTOMERS = ("acme", "globex")
TRUTH_HEADER = ["customer", "campaign", "run", "recipient", "outcome", "stuck_at"]
SEND_SPAN = timedelta(minutes=80)  # a run's messages leave over this span
LATE_CUT = timedelta(minutes=90)
DIGITS_ONLY = str.maketrans("", "", "-:T")  # a profile with trace_ends_early: the server export ends here
FIRST = ("Maria", "James", "Aiko", "Olu", "Priya", "Lars", "Chen", "Fatima", "Diego", "Hannah", "Kofi", "Ines",
         "Mateo", "Nadia", "Oskar", "Leila", "Tomasz", "Yuki", "Amara", "Ravi", "Sofia", "Ethan", "Zara", "Jonas",
         "Lucia", "Omar", "Greta", "Kenji", "Maya", "Pablo")
LAST = ("Lopez", "Smith", "Tanaka", "Adeyemi", "Sharma", "Nielsen", "Wang", "Haddad", "Garcia", "Becker", "Mensah",
        "Costa", "Rossi", "Karimi", "Lind", "Novak", "Mori", "Okafor", "Iyer", "Silva", "Brown", "Khan", "Weber",
        "Moreau", "Ali", "Schmidt", "Sato", "Cohen", "Ruiz", "Dubois")


@dataclass
class CustomerPlan:
    ctx: CustomerContext
    plans: list[MessagePlan]
    obs: list[list[Obs]]
    truth: list[tuple[str, str]]


def generate(out_dir: Path, seed: int = 1, recipients: int = 60, customers: list[str] | None = None) -> Path:
    """Write every customer's files under out_dir/<customer>/ and out_dir/truth.csv; return the truth path."""
    names = list(customers or DEFAULT_CUSTOMERS)
    for name in names:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
            raise PhishtraceError(f"customer name {name!r}: use letters, digits, '-' and '_'")
    if len(set(names)) != len(names):
        raise PhishtraceError("customer names must be distinct")
    if recipients < 2 * len(names):
        raise PhishtraceError(f"need at least {2 * len(names)} recipients for {len(names)} customers")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    base, extra = divmod(recipients, len(names))
    truth_rows: list[list[str]] = [TRUTH_HEADER]
    registry = writers()
    for i, name in enumerate(names):
        cust = plan_customer(profile_for(name, i), seed, base + (1 if i < extra else 0))
        folder = out_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        for fmt in cust.ctx.profile.writers:
            writer = registry[fmt]
            path = folder / writer.filename(cust.ctx)
            if not writer.write(path, cust.plans, cust.ctx) and path.exists():
                path.unlink()
        truth_rows.extend([name, p.campaign, p.run, p.recipient, outcome, stuck]
                          for p, (outcome, stuck) in zip(cust.plans, cust.truth))
    truth = out_dir / "truth.csv"
    with truth.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(truth_rows)
    return truth


def plan_customer(profile: Profile, seed: int, n: int) -> CustomerPlan:
    """All plans of one customer (export row order), their observations and truth."""
    rng = random.Random(f"{seed}:{profile.name}")
    b = Builder(rng, profile)
    learners = make_learners(rng, profile, n)
    start1 = datetime(2025, 6, 2, 7, 0, tzinfo=UTC) + timedelta(days=rng.randint(0, 21), minutes=rng.randint(0, 360))
    end1 = start1 + timedelta(days=2)
    start2 = start1 + timedelta(days=3)  # run-1 events all precede it; run-1 match windows (72 h) overlap it
    ctx = CustomerContext(profile=profile, seed=seed, learners=learners,
                          trace_start=start1.replace(minute=0) - timedelta(days=1),
                          trace_end=start2 + LATE_CUT if profile.trace_ends_early else None)
    ctx.extra["tenant_id"] = str(uuid.UUID(int=random.Random(f"{seed}:{profile.name}:tenant").getrandbits(128)))

    repeat = max(1, n // 60)
    names1 = eligible(profile, run_ended=True, late=False)
    run1 = fill(rng, names1 * repeat, names1, n)
    plans = build_run(b, profile, "Run 1", start1, end1, list(zip(learners, run1)))
    for p in plans:  # the platform flags a learner whose message bounced, and holds their later mail
        if p.status == "Bounced" and profile.option("flags_bounced_learners", True):
            p.learner.bounced, p.learner.bounced_at, p.learner.bounce_reason = True, p.bounced_at, p.bounce_reason

    flagged = [l for l in learners if l.bounced]
    others = [l for l in learners if not l.bounced]
    remail = rng.sample(others, min(len(others), max(2, round(0.3 * n))))
    names2 = eligible(profile, run_ended=False, late=profile.trace_ends_early)
    must2 = ["unverified_late"] * repeat if profile.trace_ends_early else []
    run2 = [(l, "held_learner") for l in flagged] + list(zip(remail, fill(rng, must2, names2, len(remail))))
    plans += build_run(b, profile, "Run 2", start2, None, run2, late_cut=ctx.trace_end)

    registry = writers()
    active = [registry[f] for f in profile.writers]
    for w in active:
        w.prepare(plans, ctx)
    obs = [[o for w in active for o in w.observe(p, ctx)] for p in plans]
    times = [o.ts for ob in obs for o in ob] + [t for p in plans for t in p.times()]
    times += [l.bounced_at for l in learners if l.bounced_at is not None]
    as_of = max(times)

    start3 = whole(as_of - timedelta(minutes=rng.uniform(30, 120)))
    stalled = rng.sample(learners, min(len(learners), max(2, round(0.1 * n))))
    plans3 = build_run(b, profile, "Run 3", start3, None, [(l, "scheduling_stalled") for l in stalled])
    plans += plans3
    obs += [[] for _ in plans3]
    ctx.as_of = as_of
    truth = [classify(p, ob, as_of, p.learner.bounced) for p, ob in zip(plans, obs)]
    return CustomerPlan(ctx, plans, obs, truth)


def fill(rng: random.Random, must: list[str], pool: list[str], n: int) -> list[str]:
    """`must` first (cut to n), then weighted draws from pool up to n; shuffled."""
    chosen = list(must[:n])
    weights = [SCENARIOS[s].weight for s in pool]
    if n > len(chosen):
        chosen += rng.choices(pool, weights=weights, k=n - len(chosen))
    rng.shuffle(chosen)
    return chosen


def make_learners(rng: random.Random, profile: Profile, n: int) -> list[Learner]:
    seen: set[str] = set()
    out = []
    while len(out) < n:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        local = f"{first}.{last}".lower()
        if local in seen:
            local = f"{local}{len(out)}"
        seen.add(local)
        # some exports keep the learner's address in mixed case; the mail logs write it lower-case
        shown = local.title() if len(out) % 3 == 1 else local
        out.append(Learner(f"{shown}@{profile.domain}", first, last))
    return out


def build_run(b: Builder, profile: Profile, run: str, start: datetime, end: datetime | None,
              entries: list[tuple[Learner, str]], late_cut: datetime | None = None) -> list[MessagePlan]:
    """Plans of one run in export order; messages leave over SEND_SPAN, late ones after late_cut."""
    rng = b.rng
    plans = []
    for learner, scenario in entries:
        sc = SCENARIOS[scenario]
        plans.append(MessagePlan(
            customer=profile.name, campaign=profile.campaign, run=run, run_start=start, run_end=end,
            learner=learner, sender=profile.sender, subject=profile.subject, scenario=scenario,
            expected=sc.expected, scheduled_at=None if scenario == "scheduling_stalled" else start,
            tz_index=len(plans) % 3, msgid_brackets=len(plans) % 2 == 0,
        ))
    on_time = [p for p in plans if SCENARIOS[p.scenario].sends and p.scenario != "unverified_late"]
    late = [p for p in plans if p.scenario == "unverified_late"]
    rng.shuffle(on_time)
    step = SEND_SPAN / max(1, len(on_time))
    for i, p in enumerate(on_time):
        p.sent_at = whole(start + timedelta(seconds=45) + i * step) + timedelta(seconds=b.randint(0, 2))
    cut = late_cut or start + LATE_CUT
    for i, p in enumerate(late):
        p.sent_at = whole(cut) + timedelta(minutes=10, seconds=20 * i + b.randint(0, 9))
    domain = profile.sender.split("@", 1)[1]
    for p in on_time + late:
        assert p.sent_at is not None
        stamp = p.sent_at.isoformat(timespec="seconds")[:19].translate(DIGITS_ONLY)
        p.message_id = f"{stamp}.{rng.getrandbits(64):016x}@{domain}"
        SCENARIOS[p.scenario].fn(b, p)
    for fmt in profile.platform:  # what the platform's export can record (writers with a fit())
        writers()[fmt].fit(b, plans)
    return plans
