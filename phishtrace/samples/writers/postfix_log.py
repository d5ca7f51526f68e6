"""Postfix + Dovecot maillog (formats.md §3.6): syslog lines of one MX host, in time order.

Stamps follow the profile option `syslog`: `rfc3339` (rsyslog: microseconds and the host's offset,
e.g. `2025-06-02T11:15:04.123456+02:00 mx1 postfix/smtpd[...]`) or `rfc3164` (classic `Jun  2
11:15:04 mx1 ...`: local time of the zone in option `tz`, no year, whole seconds; load it with
`--tz` and `--year`).

Per simulation message (mapping of phishtrace/loaders/postfix.py):
* smtpd `client=`, cleanup `message-id=`, qmgr `from=`; for most messages an amavis hop (`status=sent`
  to 127.0.0.1:10024 `queued as NEWID`: received, not final) and the same message under NEWID;
* lmtp to Dovecot `status=sent` with Dovecot's `saved mail to INBOX` -> delivered; Sieve `stored mail
  into mailbox 'Junk'` -> junked, `'Trash'` / `'Archive'` (a user's Sieve rule) -> delivered to
  deleted / other_folder (moved_by_rule); some recipients are rewritten by virtual aliases (`orig_to=`);
* `status=deferred` -> deferred (a later `sent` delivers; or nothing follows: still queued); qmgr
  `status=expired` a day later (maximal_queue_lifetime 1d) -> dropped; cleanup `discard:` -> dropped;
  cleanup `hold:` (header_checks HOLD) -> quarantined;
* smtpd `NOQUEUE: reject: RCPT ... 550 5.1.1` -> rejected; lmtp `status=bounced` (quota) -> bounced;
  a refusal of the filter's hand-off (Proofpoint in front) is the same NOQUEUE reject, at the hand-off time;
* smtp `status=sent` to an internal relay -> relayed (external).
Other mail is interleaved before and between the runs; lines after ctx.trace_end are not written.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from phishtrace.samples.model import MessagePlan, Obs
from phishtrace.samples.profiles import CustomerContext
from phishtrace.samples.writers import Writer
from phishtrace.samples.writers._fmt import floor_second, rint
from phishtrace.samples.writers._hops import NOISE_SENDERS, extra, frac, in_log, noise_times, pick

PLATFORM = ("mta1.phishsim-mailer.example", "192.0.2.25")
POD = ("mx0b-00412301.pphosted.com", "148.163.151.77")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SEC = timedelta(seconds=1)
DAY = timedelta(days=1)
FOLDER_LOCATION = {"INBOX": "inbox", "Trash": "deleted", "Archive": "other_folder", "Junk": "junk"}


@dataclass(frozen=True)
class Step:
    ts: datetime
    kind: str  # receive | hold | discard | reject | handoff | deliver | expired
    status: str = ""  # deliver: sent | deferred | bounced
    folder: str = ""  # deliver: Dovecot folder; 'relay' for an smtp relay
    on_final: bool = True  # deliver / expired: on the queue id after the content filter


def steps(plan: MessagePlan, ctx: CustomerContext) -> list[Step]:
    """The message's log steps (exact times; the rendering may drop sub-seconds), before the log's end."""
    f, s = plan.filter, plan.server
    if s is None:
        if f is not None and f.handoff == "refused" and f.handoff_ts is not None:
            return [Step(f.handoff_ts, "reject")]
        return []
    t, retry = s.ts, extra(plan, "retry_ts")
    first = retry or t
    if s.verdict == "rejected" and pick(plan, "reject_kind", ("noqueue", "lmtp")) == "noqueue":
        return [Step(t, "reject")]
    out = [Step(first - 0.25 * SEC, "receive")]
    if s.verdict == "quarantined":
        return out + [Step(first - 0.2 * SEC, "hold")]
    gap = timedelta(minutes=5 + 3 * frac(plan, "defer_gap"))
    expires = t + DAY + gap  # maximal_queue_lifetime 1d; a log that ends before it cannot show the expiry
    failed = pick(plan, "fail_kind", ("discard", "expired")) if in_log(expires, ctx) else "discard"
    if s.verdict == "failed" and failed == "discard":
        return out + [Step(first - 0.2 * SEC, "discard")]
    if pick(plan, "amavis", (True, True, False)):
        out.append(Step(first + 0.3 * SEC, "handoff"))
    if retry is not None:
        out.append(Step(retry + 0.6 * SEC, "deliver", "deferred"))
    at = t + 0.6 * SEC
    if s.verdict == "delivered":
        folder = pick(plan, "sieve_folder", ("Trash", "Archive")) if s.moved_by_rule else "INBOX"
        out.append(Step(at, "deliver", "sent", folder))
    elif s.verdict == "junked":
        out.append(Step(at, "deliver", "sent", "Junk"))
    elif s.verdict == "relayed":
        out.append(Step(at, "deliver", "sent", "relay"))
    elif s.verdict == "rejected":
        out.append(Step(at, "deliver", "bounced"))
    elif s.verdict in ("pending", "failed"):
        out += [Step(at + i * gap, "deliver", "deferred") for i in range(3)]
        if s.verdict == "failed":
            out.append(Step(expires, "expired"))
    return out


def action_of(step: Step) -> tuple[str, str | None] | None:
    if step.kind == "hold":
        return "quarantined", "quarantine"
    if step.kind in ("discard", "expired"):
        return "dropped", "none"
    if step.kind == "reject":
        return "rejected", "none"
    if step.kind == "handoff":
        return "received", None
    if step.kind == "deliver":
        if step.status == "deferred":
            return "deferred", None
        if step.status == "bounced":
            return "bounced", "none"
        if step.folder == "relay":
            return "relayed", "external"
        if step.folder == "Junk":
            return "junked", "junk"
        return "delivered", FOLDER_LOCATION[step.folder]
    return None


def rendered(ts: datetime, ctx: CustomerContext) -> datetime:
    """The time the loader reads back: whole seconds for RFC 3164 stamps."""
    return floor_second(ts) if ctx.profile.option("syslog") == "rfc3164" else ts


class PostfixLog(Writer):
    format = "postfix_log"

    def filename(self, ctx: CustomerContext) -> str:
        return "maillog"

    def observe(self, plan: MessagePlan, ctx: CustomerContext) -> list[Obs]:
        out = []
        for st in steps(plan, ctx):
            mapped = action_of(st)
            if mapped is not None and in_log(st.ts, ctx):
                out.append(Obs("server", "server", mapped[0], rendered(st.ts, ctx), mapped[1]))
        return out

    def write(self, path: Path, plans: list[MessagePlan], ctx: CustomerContext) -> bool:
        w = _Render(ctx, random.Random(f"{ctx.seed}:{ctx.name}:{self.format}"))
        for p in plans:
            chosen = [st for st in steps(p, ctx) if in_log(st.ts, ctx)]
            if chosen:
                client = POD if p.filter is not None else PLATFORM
                w.message(chosen, p.email, p.sender, p.message_id, p.subject, client,
                          alias=pick(p, "alias", (False, False, False, True)))
        if not w.lines:
            return False
        learners = [l.email for l in ctx.learners]
        for i, ts in enumerate(noise_times(plans, ctx, w.rng, max(10, len(w.lines) // 25))):
            sender = NOISE_SENDERS[i % len(NOISE_SENDERS)]
            rcpt = w.rng.choice(learners)
            if i % 4 == 3:
                w.message([Step(ts, "reject")], rcpt, f"info@bulk-{i}.example", "", "",
                          ("unknown", f"203.0.113.{i % 250 + 1}"))
            else:
                mid = f"{w.rng.getrandbits(64):016x}@{sender.split('@')[1]}"
                path_steps = [Step(ts, "receive"), Step(ts + 0.3 * SEC, "handoff"),
                              Step(ts + 0.6 * SEC, "deliver", "sent", "INBOX")]
                w.message(path_steps, rcpt, sender, mid, "", ("mail-out.saas-relay.example", f"198.51.100.{i % 250 + 1}"))
        w.save(path)
        return True


class _Render:
    """Turns steps into syslog lines (cosmetic values from the writer's rng)."""

    def __init__(self, ctx: CustomerContext, rng: random.Random):
        self.ctx, self.rng = ctx, rng
        self.zone = ZoneInfo(str(ctx.profile.option("tz", "UTC")))
        self.rfc3164 = ctx.profile.option("syslog") == "rfc3164"
        self.host = str(ctx.profile.option("mx", "mx1")).split(".")[0]
        self.lines: list[tuple[datetime, int, str]] = []
        self.qids: set[str] = set()

    def qid(self) -> str:
        while True:
            q = f"{self.rng.getrandbits(44):011X}"
            if q not in self.qids:
                self.qids.add(q)
                return q

    def add(self, ts: datetime, prog: str, text: str, pid: int | None = None) -> None:
        local = ts.astimezone(self.zone)
        if self.rfc3164:
            stamp = f"{MONTHS[local.month - 1]} {local.day:>2} {local:%H:%M:%S}"
        else:
            stamp = local.isoformat(timespec="microseconds")
        shown = "" if prog == "dovecot" else f"[{pid or rint(self.rng, 1000, 65000)}]"
        self.lines.append((ts, len(self.lines), f"{stamp} {self.host} {prog}{shown}: {text}"))

    def message(self, chosen: list[Step], rcpt: str, sender: str, mid: str, subject: str,
                client: tuple[str, str], alias: bool = False) -> None:
        domain = str(self.ctx.profile.domain)
        mailbox = f"{rcpt.split('@')[0].lower()}@vmail.{domain}" if alias else rcpt.lower()
        to = f"to=<{mailbox}>, orig_to=<{rcpt}>" if alias else f"to=<{rcpt}>"
        helo = f"proto=ESMTP helo=<{client[0]}>"
        smtpd = rint(self.rng, 1000, 65000)  # one smtpd process serves the whole session
        q1 = q2 = ""
        for st in chosen:
            if st.kind == "reject":
                self.add(st.ts - 0.05 * SEC, "postfix/smtpd", f"connect from {client[0]}[{client[1]}]", smtpd)
                self.add(st.ts, "postfix/smtpd",
                         f"NOQUEUE: reject: RCPT from {client[0]}[{client[1]}]: 550 5.1.1 <{rcpt}>: Recipient address "
                         f"rejected: User unknown in virtual mailbox table; from=<{sender}> to=<{rcpt}> {helo}", smtpd)
                self.add(st.ts + 0.05 * SEC, "postfix/smtpd",
                         f"disconnect from {client[0]}[{client[1]}] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4", smtpd)
            elif st.kind == "receive":
                q1 = q2 = self.qid()
                self.add(st.ts - 0.05 * SEC, "postfix/smtpd", f"connect from {client[0]}[{client[1]}]", smtpd)
                self.add(st.ts, "postfix/smtpd", f"{q1}: client={client[0]}[{client[1]}]", smtpd)
                self.add(st.ts + 0.01 * SEC, "postfix/cleanup", f"{q1}: message-id=<{mid}>")
                if not any(x.kind in ("hold", "discard") for x in chosen):
                    self.add(st.ts + 0.1 * SEC, "postfix/qmgr",
                             f"{q1}: from=<{sender}>, size={rint(self.rng, 9000, 42000)}, nrcpt=1 (queue active)")
                self.add(st.ts + 0.12 * SEC, "postfix/smtpd", f"disconnect from {client[0]}[{client[1]}] "
                         "ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7", smtpd)
            elif st.kind in ("hold", "discard"):
                note = "Quarantined by header check" if st.kind == "hold" else "Dropped by header check"
                self.add(st.ts, "postfix/cleanup",
                         f"{q1}: {st.kind}: header Subject: {subject} from {client[0]}[{client[1]}]; "
                         f"from=<{sender}> to=<{rcpt}> {helo}: {note}")
            elif st.kind == "handoff":
                q2 = self.qid()
                self.add(st.ts - 0.05 * SEC, "postfix/smtpd", f"{q2}: client=localhost[127.0.0.1]")
                self.add(st.ts - 0.04 * SEC, "postfix/cleanup", f"{q2}: message-id=<{mid}>")
                self.add(st.ts - 0.03 * SEC, "postfix/qmgr",
                         f"{q2}: from=<{sender}>, size={rint(self.rng, 9000, 42000)}, nrcpt=1 (queue active)")
                self.add(st.ts, "postfix/smtp",
                         f"{q1}: {to}, relay=127.0.0.1[127.0.0.1]:10024, delay=0.31, delays=0.1/0/0/0.21, dsn=2.0.0, "
                         f"status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as {q2})")
                self.add(st.ts + 0.01 * SEC, "postfix/qmgr", f"{q1}: removed")
            elif st.kind == "deliver":
                self.deliver(st, q2, to, mailbox, mid)
            elif st.kind == "expired":
                self.add(st.ts, "postfix/qmgr", f"{q2}: from=<{sender}>, status=expired, returned to sender")
                self.add(st.ts + 0.01 * SEC, "postfix/bounce", f"{q2}: sender non-delivery notification: {self.qid()}")
                self.add(st.ts + 0.02 * SEC, "postfix/qmgr", f"{q2}: removed")

    def deliver(self, st: Step, q: str, to: str, mailbox: str, mid: str) -> None:
        session = f"{self.rng.getrandbits(96):024x}"
        host = f"mail.{self.ctx.profile.domain}"
        lmtp = f"relay={host}[/var/run/dovecot/lmtp], delay=0.6, delays=0.3/0.01/0.02/0.27"
        if st.status == "deferred":
            self.add(st.ts, "postfix/lmtp", f"{q}: {to}, {lmtp}, dsn=4.2.0, status=deferred (host {host}"
                     f"[/var/run/dovecot/lmtp] said: 451 4.2.0 <{mailbox}> Mailbox is locked, try again later "
                     "(in reply to end of DATA command))")
            return
        if st.status == "bounced":
            self.add(st.ts, "postfix/lmtp", f"{q}: {to}, {lmtp}, dsn=5.2.2, status=bounced (host {host}"
                     f"[/var/run/dovecot/lmtp] said: 552 5.2.2 <{mailbox}> Quota exceeded (mailbox for user is full) "
                     "(in reply to end of DATA command))")
            self.add(st.ts + 0.01 * SEC, "postfix/bounce", f"{q}: sender non-delivery notification: {self.qid()}")
        elif st.folder == "relay":
            self.add(st.ts, "postfix/smtp", f"{q}: {to}, relay=exch01.{self.ctx.profile.domain}[10.20.0.15]:25, "
                     "delay=0.7, "
                     f"delays=0.3/0.01/0.1/0.29, dsn=2.6.0, status=sent (250 2.6.0 <{mid}> [InternalId=1571958] "
                     "Queued mail for delivery)")
        else:
            user = f"lmtp({mailbox})<{rint(self.rng, 1000, 65000)}><{session[:22]}>"
            save = ("saved mail to INBOX" if st.folder == "INBOX"
                    else f"sieve: msgid=<{mid}>: stored mail into mailbox '{st.folder}'")
            text = f"{user}: msgid=<{mid}>: {save}" if st.folder == "INBOX" else f"{user}: {save}"
            self.add(st.ts - 0.01 * SEC, "dovecot", text)
            self.add(st.ts, "postfix/lmtp", f"{q}: {to}, {lmtp}, dsn=2.0.0, status=sent (250 2.0.0 <{mailbox}> "
                     f"{session[:22]} Saved)")
        self.add(st.ts + 0.01 * SEC, "postfix/qmgr", f"{q}: removed")

    def save(self, path: Path) -> None:
        self.lines.sort(key=lambda r: (r[0], r[1]))
        path.write_text("\n".join(text for _, _, text in self.lines) + "\n", encoding="utf-8", newline="")


WRITER = PostfixLog()
