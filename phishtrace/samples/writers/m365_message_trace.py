"""Exchange Online message trace (formats.md §3.1.1), one row per recipient, newest first.

Two renderings (profile.trace_shape):
* `export_csv`: `Get-MessageTrace | Export-Csv` over PowerShell remoting: `#TYPE` line, every value
  quoted (nulls empty), the PSComputerName/RunspaceId/PSShowComputerName columns, en-US dates in UTC.
* `json`: Reporting Web Service / ConvertTo-Json records as JSON lines (`<`/`>` escaped as \\u003c/\\u003e,
  7 fractional digits, `Received` sometimes without `Z`), closed by an empty OData page.

Status -> canonical action: Delivered delivered, Quarantined quarantined, FilteredAsSpam junked,
Failed dropped (the server failed it: `server_failed`), Pending deferred; all server verdicts.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime
from pathlib import Path

import orjson

from phishtrace.samples.model import MessagePlan, Obs
from phishtrace.samples.profiles import CustomerContext
from phishtrace.samples.writers import Writer
from phishtrace.samples.writers._fmt import en_us, floor_second, iso7, rint

COLUMNS = ["Organization", "MessageId", "Received", "SenderAddress", "RecipientAddress", "Subject", "Status", "ToIP",
           "FromIP", "Size", "MessageTraceId", "StartDate", "EndDate", "Index"]
PS_COLUMNS = ["PSComputerName", "RunspaceId", "PSShowComputerName"]
TYPE_LINE = "#TYPE Deserialized.Microsoft.Exchange.Management.FfoReporting.MessageTrace"
STATUS = {"delivered": "Delivered", "quarantined": "Quarantined", "failed": "Failed", "pending": "Pending"}
ACTIONS = {
    "Delivered": ("delivered", None),
    "Quarantined": ("quarantined", "quarantine"),
    "FilteredAsSpam": ("junked", "none"),
    "Failed": ("dropped", "none"),
    "Pending": ("deferred", None),
}
FILTER_IP = "148.163.{}.{}"  # Proofpoint's outbound range, when a filter hands mail over
PLATFORM_IP = "192.0.2.25"


def status(plan: MessagePlan) -> str | None:
    s = plan.server
    if s is None or not s.logged:
        return None
    if s.verdict == "junked":
        return "FilteredAsSpam" if s.spam_as_filtered else "Delivered"
    return STATUS[s.verdict]


class M365MessageTrace(Writer):
    format = "m365_message_trace"

    def filename(self, ctx: CustomerContext) -> str:
        return "message_trace.csv" if ctx.profile.trace_shape == "export_csv" else "message_trace.json"

    def window(self, ctx: CustomerContext) -> tuple[datetime, datetime]:
        end = ctx.trace_end or ctx.as_of
        assert end is not None
        return ctx.trace_start, end

    def _row_ts(self, plan: MessagePlan, ctx: CustomerContext) -> datetime | None:
        """Received as the file states it, or None when the file has no row for the plan."""
        st = status(plan)
        if st is None:
            return None
        assert plan.server is not None
        ts = plan.server.ts
        if ctx.profile.trace_shape == "export_csv":
            ts = floor_second(ts)
        end = ctx.trace_end
        if ts < ctx.trace_start or (end is not None and ts > end):
            return None
        return ts

    def observe(self, plan: MessagePlan, ctx: CustomerContext) -> list[Obs]:
        ts = self._row_ts(plan, ctx)
        if ts is None:
            return []
        action, location = ACTIONS[status(plan)]  # type: ignore[index]
        return [Obs("server", "server", action, ts, location)]

    def write(self, path: Path, plans: list[MessagePlan], ctx: CustomerContext) -> bool:
        rng = random.Random(f"{ctx.seed}:{ctx.name}:{self.format}")
        start, end = self.window(ctx)
        filter_ip = FILTER_IP.format(rint(rng, 140, 159), rint(rng, 1, 254))
        rows = []
        for p in plans:
            ts = self._row_ts(p, ctx)
            if ts is None:
                continue
            rows.append((ts, p, rint(rng, 14000, 48000), str(uuid.UUID(int=rng.getrandbits(128)))))
        if not rows:
            return False
        rows.sort(key=lambda r: r[0], reverse=True)
        from_ip = filter_ip if ctx.profile.filter else PLATFORM_IP
        if ctx.profile.trace_shape == "export_csv":
            runspace = str(uuid.UUID(int=rng.getrandbits(128)))
            lines = [TYPE_LINE, ",".join(f'"{c}"' for c in PS_COLUMNS + COLUMNS)]
            for index, (ts, p, size, trace_id) in enumerate(rows):
                values = ["outlook.office365.com", runspace, "False", ctx.profile.tenant, f"<{p.message_id}>",
                          en_us(ts), p.sender, p.recipient, p.subject, status(p), None, from_ip, str(size), trace_id,
                          en_us(start), en_us(end), str(index)]
                lines.append(",".join("" if v is None else '"' + v.replace('"', '""') + '"' for v in values))
            path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8", newline="")
            return True
        out = []
        for index, (ts, p, size, trace_id) in enumerate(rows):
            rec = {"Organization": ctx.profile.tenant, "MessageId": f"<{p.message_id}>",
                   "Received": iso7(ts, z=rng.random() < 0.7, extra_digit=rint(rng, 0, 9)),
                   "SenderAddress": p.sender, "RecipientAddress": p.recipient, "Subject": p.subject,
                   "Status": status(p), "ToIP": None, "FromIP": from_ip, "Size": size, "MessageTraceId": trace_id,
                   "StartDate": iso7(start), "EndDate": iso7(end), "Index": index}
            out.append(orjson.dumps(rec).replace(b"<", b"\\u003c").replace(b">", b"\\u003e"))
        empty_page = {"odata.metadata": "https://reports.office365.com/ecp/ReportingWebService/Reporting.svc/$metadata#MessageTrace",
                      "value": []}
        out.append(orjson.dumps(empty_page))
        path.write_bytes(b"\n".join(out) + b"\n")
        return True


WRITER = M365MessageTrace()
