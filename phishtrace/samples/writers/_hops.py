"""Helpers of the server and mailbox writers for the profiles_servers customers.

A writer's observe() and write() must agree on every event, so structural choices (which variant a
message takes, a retry interval) are derived from the plan itself (`pick`, `frac`), never drawn from
a random generator; cosmetic values (process ids, queue ids) may come from the writer's own rng.
"""

from __future__ import annotations

import random
import zlib
from datetime import datetime, timedelta

from phishtrace.samples.model import MessagePlan
from phishtrace.samples.profiles import CustomerContext

NOISE_SENDERS = ("newsletter@vendor-news.example", "no-reply@saas-notify.example", "alerts@monitoring.example",
                 "jobs@careers-board.example", "orders@office-supplies.example")
NOISE_SUBJECTS = ("Your weekly digest", "Invoice available", "Service status update", "New job alerts",
                  "Order confirmation")


def frac(plan: MessagePlan, salt: str) -> float:
    """A number in [0, 1) fixed by the plan and the salt."""
    return zlib.crc32(f"{salt}|{plan.message_id}|{plan.run}|{plan.recipient}".encode()) / 2**32


def pick(plan: MessagePlan, salt: str, options: tuple):
    return options[int(frac(plan, salt) * len(options))]


def in_log(ts: datetime, ctx: CustomerContext) -> bool:
    """Whether a server log that starts at trace_start and (maybe) ends early has this time."""
    return ts >= ctx.trace_start and (ctx.trace_end is None or ts <= ctx.trace_end)


def extra(plan: MessagePlan, name: str):
    """An extra fact of scenarios_servers.HopFacts (None on plain ServerFacts)."""
    return getattr(plan.server, name, None)


def removal_source(plan: MessagePlan, ctx: CustomerContext) -> str | None:
    """Which post-delivery source records a removal: 'timaildata' or 'abnormal' (None: not removed)."""
    s = plan.server
    if s is None or s.removed_ts is None or s.verdict != "delivered":
        return None
    have = tuple(n for f, n in (("m365_timaildata_json", "timaildata"), ("abnormal_threats_json", "abnormal"))
                 if f in ctx.profile.mailbox)
    if not have:
        return None
    return pick(plan, "removal", have + ("abnormal",) if len(have) > 1 else have)


def noise_times(plans: list[MessagePlan], ctx: CustomerContext, rng: random.Random, n: int) -> list[datetime]:
    """Times for other mail in the log: before run 1 and between the runs (never after the campaign's
    events, so the latest time a log holds is always a campaign event)."""
    starts = sorted({p.run_start for p in plans if p.sent_at is not None})
    gaps = [(ctx.trace_start, starts[0] - timedelta(minutes=10))]
    if len(starts) > 1:
        gaps.append((starts[0] + timedelta(hours=30), starts[1] - timedelta(hours=6)))
    out = []
    for i in range(n):
        lo, hi = gaps[i % len(gaps)]
        out.append(lo + timedelta(seconds=rng.uniform(0, max(1.0, (hi - lo).total_seconds()))))
    return sorted(out)
