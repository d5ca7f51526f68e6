"""Cisco Secure Email Gateway text mail logs and bounce logs (formats.md §2.3.1, §2.3.2).

Form (profile option `cisco_form`): `file` = `mail_logs.@<roll time>.s` files (`Fri Jun  6 09:15:02 2025
Info: …`, ctime with space-padded days; rolled one hour into each run, so a message can start in one file
and be delivered or released in the next) and `bounces.@….s`; `syslog` = what two appliances push by
syslog (`<22>Jun  6 09:15:02 esa01.<domain> mail_logs: Info: …`, no year, `bounces:` lines for the bounce
log), the appliances numbering their MIDs in the same range. Times are appliance local time without a
zone (TZ below: ingest with `--tz`, and `--year` for the syslog form), to the second.

Per message (stg_cisco_esa_text.sql): `MID m ICID i RID 0 To:` -> received; `quarantined to "X"` / `ISQ:
Tagging` -> quarantined; `deleted from quarantine` -> dropped; `released from quarantine` -> released, the
message re-issued as a new MID (`rewritten to`) that carries no recipient of its own; `Message done` ->
relayed; `Bounced: … ('550', […])` -> bounced (the server's verdict); `Bounced: DCID 0 … ('000', [])` (the
appliance gave up) -> bounced (the filter's); `Delayed:` -> deferred. The bounce log repeats every bounce
and delay (`Bounced: MID:RID From:<…> To:<…> Reason: "…" Response: "…"`).
"""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

from phishtrace.samples.model import MessagePlan, Obs
from phishtrace.samples.profiles import CustomerContext
from phishtrace.samples.writers import Writer
from phishtrace.samples.writers._fmt import floor_second, rint
from phishtrace.samples.writers._platforms import landing_url

TZ = {"file": "America/Chicago", "syslog": "Europe/Berlin"}  # each form's appliance zone (--tz)
PLATFORM_IP = "192.0.2.25"
REFUSED = "('550', ['5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'])"
GAVE_UP = "('000', [])"
DELAYED = "('421', ['4.4.1 Connection timed out'])"


class Step(NamedTuple):
    kind: str  # receive | quarantine | delete | release | deliver | refuse | give_up | delay
    ts: datetime  # UTC, whole seconds
    obs: tuple[Obs, ...]


def spread(key: str, lo: float, hi: float) -> float:
    """A stable pseudo-random number in [lo, hi) for key (observe() and write() must agree)."""
    return lo + (hi - lo) * int(hashlib.md5(key.encode()).hexdigest()[:8], 16) / 0x1_0000_0000


def steps(p: MessagePlan) -> list[Step]:
    f = p.filter
    if f is None:
        return []
    t0 = floor_second(f.ts)
    out = [Step("receive", t0, (Obs("filter", "filter", "received", t0),))]
    if f.verdict in ("quarantined", "dropped"):
        out.append(Step("quarantine", t0, (Obs("filter", "filter", "quarantined", t0, "quarantine"),)))
    if f.verdict == "dropped":
        gone = floor_second(f.ts + timedelta(hours=spread(f.qid + "delete", 1, 4)))
        out.append(Step("delete", gone, (Obs("filter", "filter", "dropped", gone, "none"),)))
    if f.released_ts is not None:
        rel = floor_second(f.released_ts)
        out.append(Step("release", rel, (Obs("filter", "filter", "released", rel),)))
    if f.verdict == "rejected":
        t = t0 + timedelta(seconds=1)
        out.append(Step("give_up", t, (Obs("filter", "filter", "bounced", t),) * 2))  # mail log + bounce log
    elif f.verdict == "deferred":
        t = floor_second(f.handoff_ts or f.ts + timedelta(seconds=spread(f.qid + "delay", 30, 300)))
        out.append(Step("delay", t, (Obs("filter", "filter", "deferred", t),) * 2))
    elif f.handoff == "sent":
        assert f.handoff_ts is not None
        t = floor_second(f.handoff_ts)
        out.append(Step("deliver", t, (Obs("filter", "filter", "relayed", t, "external"),)))
    elif f.handoff == "refused":
        assert f.handoff_ts is not None
        t = floor_second(f.handoff_ts)
        out.append(Step("refuse", t, (Obs("filter", "server", "bounced", t),) * 2))
    return out


def ctime(dt: datetime) -> str:
    """'Fri Jun  6 09:15:02 2025' (day space-padded)."""
    return f"{dt:%a %b} {dt.day:2d} {dt:%H:%M:%S %Y}"


def syslog_time(dt: datetime) -> str:
    return f"{dt:%b} {dt.day:2d} {dt:%H:%M:%S}"


class CiscoEsaText(Writer):
    format = "cisco_esa_text"

    def filename(self, ctx: CustomerContext) -> str:
        if self._form(ctx) == "syslog":
            return "esa_mail_logs_syslog.log"
        return f"mail_logs.@{self._roll_name(ctx.trace_start, ctx)}.s"

    @staticmethod
    def _form(ctx: CustomerContext) -> str:
        return str(ctx.profile.option("cisco_form", "file"))

    def _roll_name(self, ts: datetime, ctx: CustomerContext) -> str:
        return f"{ts.astimezone(ZoneInfo(TZ[self._form(ctx)])):%Y%m%dT%H%M%S}"

    def observe(self, plan: MessagePlan, ctx: CustomerContext) -> list[Obs]:
        return [o for s in steps(plan) for o in s.obs]

    def write(self, path: Path, plans: list[MessagePlan], ctx: CustomerContext) -> bool:
        rng = random.Random(f"{ctx.seed}:{ctx.name}:{self.format}")
        form = self._form(ctx)
        zone = ZoneInfo(TZ[form])
        hosts = [f"esa0{k}.{ctx.profile.domain}" for k in (1, 2)] if form == "syslog" else [None]
        base = rint(rng, 40_000_000, 40_000_500)
        mids = {h: base for h in hosts}  # appliances number MIDs independently, here in the same range
        step = {h: random.Random(f"{ctx.seed}:{ctx.name}:mid") for h in hosts}
        icid, dcid = rint(rng, 900_000, 990_000), rint(rng, 300_000, 390_000)
        mx_ip = f"52.101.{rint(rng, 0, 255)}.{rint(rng, 1, 254)}"
        mail: list[tuple[datetime, int, str, str | None]] = []  # (utc, order, message, host)
        bounces: list[tuple[datetime, int, str, str | None]] = []
        seq = 0

        def log(ts: datetime, text: str, host: str | None, into=mail) -> None:
            nonlocal seq
            seq += 1
            into.append((ts, seq, text, host))

        for n, p in enumerate(plans):
            plan_steps = steps(p)
            if not plan_steps:
                continue
            host = hosts[n % len(hosts)]
            mids[host] += step[host].randint(1, 3)
            icid += 1
            mid, sender, rcpt, t0 = mids[host], p.sender, p.recipient, plan_steps[0].ts
            subject = f'"{p.subject}"' if n % 3 else f"'{p.subject}'"
            log(t0 - timedelta(seconds=1), f"New SMTP ICID {icid} interface Data 1 (10.20.1.5) address {PLATFORM_IP} "
                "reverse dns host mta1.phishsim-mailer.example verified yes", host)
            log(t0 - timedelta(seconds=1), f"ICID {icid} ACCEPT SG UNKNOWNLIST match sbrs[-1.0:10.0] SBRS 2.{n % 10} "
                "country United States", host)
            for text in (f"Start MID {mid} ICID {icid}", f"MID {mid} ICID {icid} From: <{sender}>",
                         f"MID {mid} ICID {icid} RID 0 To: <{rcpt}>", f"MID {mid} Message-ID '<{p.message_id}>'",
                         f"MID {mid} Subject {subject}",
                         f"MID {mid} ready {rint(rng, 9000, 42000)} bytes from <{sender}>",
                         f"MID {mid} matched all recipients for per-recipient policy DEFAULT in the inbound table",
                         f"MID {mid} interim verdict using engine: CASE spam negative",
                         f"MID {mid} interim AV verdict using Sophos CLEAN"):
                log(t0, text, host)
            log(t0, f"ICID {icid} close", host)
            current = mid
            for s in plan_steps[1:]:
                if s.kind == "quarantine":
                    if p.filter.folder == "Bulk":  # type: ignore[union-attr]
                        log(s.ts, f"ISQ: Tagging MID {mid} for quarantine", host)
                    elif p.filter.folder == "Phish":  # type: ignore[union-attr]
                        log(s.ts, f"MID {mid} URL {landing_url(p, False)} has reputation -7.9 matched Condition: "
                            "URL Reputation Rule", host)
                        log(s.ts, f'MID {mid} quarantined to "Outbreak" (Outbreak Filters: threat level 4)', host)
                    else:
                        log(s.ts, f'MID {mid} quarantined to "Policy" (message filter:hold_external_links)', host)
                elif s.kind == "delete":
                    log(s.ts, f'MID {mid} deleted from quarantine "Policy" (manual delete by admin)', host)
                elif s.kind == "release":
                    mids[host] += rint(rng, 1, 3)
                    current = mids[host]
                    log(s.ts, f'MID {mid} released from quarantine "Policy" (manual release by admin)', host)
                    log(s.ts, f"MID {mid} rewritten to {current} by Policy Quarantine", host)
                elif s.kind == "give_up":
                    log(s.ts, f"Bounced: DCID 0 MID {mid} to RID 0 - 5.1.2 - Bad destination host {GAVE_UP} []", host)
                    log(s.ts, f'Bounced: {mid}:0 From:<{sender}> To:<{rcpt}> Reason: "5.1.2 - Bad destination host" '
                        f'Response: "{GAVE_UP}"', host, bounces)
                else:  # a delivery attempt: deliver | refuse | delay
                    dcid += 1
                    log(s.ts, f"New SMTP DCID {dcid} interface 10.20.1.5 address {mx_ip} port 25", host)
                    log(s.ts, f"Delivery start DCID {dcid} MID {current} to RID [0]", host)
                    if s.kind == "deliver":
                        log(s.ts, f"Message done DCID {dcid} MID {current} to RID [0] [('X-SBRS', 'None')]", host)
                        log(s.ts, f"MID {current} RID [0] Response '2.6.0 <{p.message_id}> [InternalId="
                            f"{rint(rng, 10**10, 10**11)}] Queued mail for delivery'", host)
                        log(s.ts, f"Message finished MID {current} done", host)
                    elif s.kind == "refuse":
                        log(s.ts, f"Bounced: DCID {dcid} MID {current} to RID 0 - 5.1.0 - Unknown address error "
                            f"{REFUSED} []", host)
                        log(s.ts, f'Bounced: {current}:0 From:<{sender}> To:<{rcpt}> Reason: "5.1.0 - Unknown address '
                            f'error" Response: "{REFUSED}"', host, bounces)
                    else:
                        log(s.ts, f"Delayed: DCID {dcid} MID {current} to RID 0 - 4.4.1 - Connection timed out "
                            f"{DELAYED}[]", host)
                        retry = ctime((s.ts + timedelta(minutes=10)).astimezone(zone))
                        log(s.ts, f"Message {current} to RID [0] pending till {retry}", host)
                        log(s.ts, f'Delayed: {current}:0 From:<{sender}> To:<{rcpt}> Reason: "4.4.1 - Connection '
                            f'timed out" Response: "{DELAYED}"', host, bounces)
                    log(s.ts, f"DCID {dcid} close", host)
        if not mail:
            return False
        if form == "syslog":
            self._syslog(path, mail, "mail_logs", zone)
            self._syslog(path.parent / "esa_bounces_syslog.log", bounces, "bounces", zone)
        else:
            self._files(path.parent, mail, "mail_logs", zone, plans, ctx)
            self._files(path.parent, bounces, "bounces", zone, [], ctx)
        return True

    @staticmethod
    def _syslog(path: Path, rows: list, name: str, zone: ZoneInfo) -> None:
        if not rows:
            return
        rows.sort(key=lambda r: (r[0], r[1]))
        path.write_text("".join(f"<22>{syslog_time(ts.astimezone(zone))} {host} {name}: Info: {text}\n"
                                for ts, _, text, host in rows), encoding="utf-8")

    def _files(self, folder: Path, rows: list, name: str, zone: ZoneInfo, plans: list[MessagePlan],
               ctx: CustomerContext) -> None:
        """Roll the log one hour into each run (the first file opens at the start of the trace window)."""
        rows.sort(key=lambda r: (r[0], r[1]))
        starts = sorted({p.run_start for p in plans})
        rolls = [ctx.trace_start, *(s + timedelta(hours=1) for s in starts)]
        for k, opened in enumerate(rolls):
            closes = rolls[k + 1] if k + 1 < len(rolls) else None
            part = [r for r in rows if r[0] >= opened and (closes is None or r[0] < closes)]
            if not part:
                continue
            text = "".join(f"{ctime(ts.astimezone(zone))} Info: {msg}\n" for ts, _, msg, _ in part)
            (folder / f"{name}.@{self._roll_name(opened, ctx)}.s").write_text(text, encoding="utf-8")


WRITER = CiscoEsaText()
