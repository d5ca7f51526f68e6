"""GoPhish Results CSV (formats.md §1.1.1, §1.1.2), one '<campaign> - Results.csv' per campaign (= run).

v0.7.0+ header `id,status,ip,latitude,longitude,send_date,reported,modified_date,email,first_name,
last_name,position`, written with PapaParse unparse() rules (CRLF, no newline after the last row, quoting
only where needed, formula escaping: a position '-' is written "'-"). `id` is the RId (the `rid` of every
link), `status` the furthest state (Sending / Error / Email Sent / Email Opened / Clicked Link / Submitted
Data), `ip` the address of the most recent tracked request, `send_date` the send time (`Email Sent` =
the relay accepted it; for `Error` the attempt; for `Sending` the time it was queued), times in UTC
RFC3339Nano. This writer's `fit()` makes the plans say what GoPhish can record (writers/_platforms.py).
No file here yields mail events.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from phishtrace.samples.model import MessagePlan
from phishtrace.samples.profiles import CustomerContext
from phishtrace.samples.writers import Writer
from phishtrace.samples.writers._platforms import fit_gophish, gophish_campaign, rid_of

HEADER = ["id", "status", "ip", "latitude", "longitude", "send_date", "reported", "modified_date", "email",
          "first_name", "last_name", "position"]
STATUS_OF = {"opened": "Email Opened", "clicked": "Clicked Link", "entered_data": "Submitted Data"}
RANK = {"Email Sent": 0, "Email Opened": 1, "Clicked Link": 2, "Submitted Data": 3}
POSITIONS = ("Analyst", "-", "Engineer", "Accounts Payable", "@Sales", "Office Manager")


def go_time(dt: datetime | None) -> str:
    """Go's RFC3339Nano in UTC: trailing zeros of the fraction trimmed, no fraction when it is zero."""
    if dt is None:
        return ""
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{dt.microsecond:06d}".rstrip("0")
    return base + (f".{frac}" if frac else "") + "Z"


def papa_cell(value: object) -> str:
    """One cell as PapaParse 5.2 unparse({escapeFormulae: true}) writes it."""
    if value is None:
        return ""
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    if isinstance(value, str) and text[:1] in ("=", "+", "-", "@"):
        text = "'" + text
    text = text.replace('"', '""')
    if any(c in text for c in '\r\n",') or text[:1] == " " or text[-1:] == " ":
        return f'"{text}"'
    return text


def papa_unparse(rows: list[list[object]]) -> str:
    return "\r\n".join(",".join(papa_cell(v) for v in row) for row in rows)


def by_campaign(plans: list[MessagePlan]) -> dict[str, list[MessagePlan]]:
    out: dict[str, list[MessagePlan]] = {}
    for p in plans:
        out.setdefault(p.campaign, []).append(p)
    return out


def result_status(p: MessagePlan) -> tuple[str, datetime]:
    """(GoPhish status, time of the last status change)."""
    if p.sent_at is None:
        assert p.scheduled_at is not None
        return "Sending", p.scheduled_at
    if p.bounced_at is not None:
        return "Error", p.bounced_at
    status, changed = "Email Sent", p.sent_at
    for i in sorted(p.interactions, key=lambda i: i.ts):
        st = STATUS_OF.get(i.kind)
        if st and RANK[st] > RANK[status]:
            status, changed = st, i.ts
    return status, changed


class GophishResultsCsv(Writer):
    format = "gophish_results_csv"

    def filename(self, ctx: CustomerContext) -> str:
        return f"{gophish_campaign(ctx.profile.campaign, 'Run 1')} - Results.csv"

    def fit(self, b, plans: list[MessagePlan]) -> None:
        fit_gophish(b, plans)

    def write(self, path: Path, plans: list[MessagePlan], ctx: CustomerContext) -> bool:
        """One file per campaign next to `path` (the first campaign's file)."""
        for n, (campaign, rows) in enumerate(by_campaign(plans).items()):
            lines: list[list[object]] = [list(HEADER)]
            for k, p in enumerate(rows):
                status, changed = result_status(p)
                hits = [i for i in p.interactions if i.kind in STATUS_OF]
                reports = [i.ts for i in p.interactions if i.kind == "reported"]
                modified = max([changed, *reports])
                ip = max(hits, key=lambda i: i.ts).ip if hits else None
                send = p.sent_at if p.sent_at is not None else p.scheduled_at
                lines.append([rid_of(p), status, ip, 0, 0, go_time(send), bool(reports), go_time(modified),
                              p.email, p.learner.first_name, p.learner.last_name,
                              POSITIONS[(n + k) % len(POSITIONS)]])
            (path.parent / f"{campaign} - Results.csv").write_text(papa_unparse(lines), encoding="utf-8",
                                                                  newline="")
        return True


WRITER = GophishResultsCsv()
