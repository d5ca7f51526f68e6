"""Unified audit log inbox-rule records (formats.md §3.3.2) as an audit search CSV export
(`CreationDate,UserIds,Operations,AuditData`, the record as JSON in `AuditData`, UTF-8 with BOM, CRLF).

Rules that match the simulation (every condition a rule has matches the message, as Exchange ANDs
them) and move or delete mail:
  `New-InboxRule -From <sender> -MoveToFolder "Conversation History"`; `-FromAddressContainsWords
  <sender domain> -DeleteMessage`; `-SubjectContainsWords <a subject word> -MoveToFolder "Deleted Items"`;
  `UpdateInboxRules` (Outlook) `((SenderSearchKey Equal SMTP:<SENDER>))` with a `Move` action;
  `Set-InboxRule -Identity <mailbox>\\<rule> -From <sender> -SubjectContainsWords <word> -MoveToFolder Archive`
  (run by an administrator: UserId is not the mailbox).
Rules that must not count: another sender; the simulation sender but only `-MarkAsRead`; subject words
the message does not have; the simulation sender AND a subject word it lacks; an `UpdateInboxRules`
for another sender; a failed cmdlet (`ResultStatus` False); a matching rule of a learner who was never
sent anything.

A moved_by_rule message gets a matching rule only when the rule changes no other message of that
learner whose outcome comes after moved_by_rule (a rule matches every later message of the same sender);
otherwise its evidence is TIMailData's DeletedFolder location (see m365_timaildata_json). The writer
reports a rule_created event for every message a rule matches (docs/outcomes.md §3 rule 10).
"""

from __future__ import annotations

import csv
import io
import json
import random
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from phishtrace.samples.model import MessagePlan, Obs
from phishtrace.samples.profiles import CustomerContext
from phishtrace.samples.writers import Writer
from phishtrace.samples.writers._hops import pick

WINDOW = timedelta(hours=72)
# outcomes that a matching rule does not change (rules 1-10 of outcomes.md §3 come first)
BEFORE_RULE = {"bounced", "filter_quarantined", "filter_deferred", "server_quarantined", "server_junked",
               "server_failed", "removed_after_delivery", "moved_by_rule"}
MATCHING = ("from_move", "domain_delete", "subject_deleted_items", "mapi_move", "set_from_subject")
LOCATION = {"from_move": "other_folder", "domain_delete": "deleted", "subject_deleted_items": "deleted",
            "mapi_move": "other_folder", "set_from_subject": "other_folder"}
NON_MATCHING = ("other_sender", "mark_read_only", "other_subject", "sender_and_other_subject", "mapi_other",
                "failed_cmdlet")
OTHER_SENDER = "digest@team-newsletter.example"


def subject_word(subject: str) -> str:
    return max((w.strip(":,.#!?") for w in subject.split()), key=len)


class M365InboxRulesJson(Writer):
    format = "m365_inbox_rules_json"

    def filename(self, ctx: CustomerContext) -> str:
        return "inbox_rules_audit.csv"

    def prepare(self, plans: list[MessagePlan], ctx: CustomerContext) -> None:
        rng = random.Random(f"{ctx.seed}:{ctx.name}:{self.format}")
        sent: dict[str, list[MessagePlan]] = {}
        for p in plans:
            if p.sent_at is not None:
                sent.setdefault(p.recipient, []).append(p)
        matching: dict[str, tuple[datetime, str]] = {}
        covered: set[str] = set()
        rules: list[dict] = []
        with_rule: set[str] = set()
        for p in plans:
            s = p.server
            if p.sent_at is None or s is None or not s.moved_by_rule or p.recipient in with_rule:
                continue
            if p.run == "Run 1":
                ts = p.sent_at - timedelta(hours=rng.uniform(2, 144))
            else:  # created shortly before this run's message
                ts = p.sent_at - timedelta(minutes=rng.uniform(1, 45))
            ts = ts.replace(microsecond=0)
            others = [q for q in sent[p.recipient] if q is not p]
            if any(q.sent_at is not None and ts <= q.sent_at + WINDOW and q.expected[0] not in BEFORE_RULE
                   for q in others):
                continue
            variant = pick(p, "rule_variant", MATCHING)
            with_rule.add(p.recipient)
            covered.add(p.message_id)
            rules.append({"ts": ts, "variant": variant, "email": p.email, "sender": p.sender, "subject": p.subject})
            for q in [p, *others]:
                if q.sent_at is not None and ts <= q.sent_at + WINDOW:
                    matching[q.message_id] = (ts, LOCATION[variant])
        starts = sorted({p.run_start for p in plans})
        first = plans[0]
        for i, learner in enumerate(l for l in ctx.learners if l.address not in with_rule):
            never_sent = learner.address not in sent
            if never_sent and rng.random() < 0.5:
                variant = "from_move"  # matching conditions, but nothing was ever sent to this mailbox
            elif rng.random() < 0.22:
                variant = NON_MATCHING[i % len(NON_MATCHING)]
            else:
                continue
            ts = (starts[0] - timedelta(days=rng.uniform(1, 20))).replace(microsecond=0)
            rules.append({"ts": ts, "variant": variant, "email": learner.email, "sender": first.sender,
                          "subject": first.subject})
        rules.sort(key=lambda r: r["ts"])
        ctx.extra["inbox_rules"] = {"matching": matching, "covered": covered, "rules": rules}

    def observe(self, plan: MessagePlan, ctx: CustomerContext) -> list[Obs]:
        hit = ctx.extra.get("inbox_rules", {}).get("matching", {}).get(plan.message_id)
        if hit is None or not plan.message_id:
            return []
        return [Obs("mailbox", "mailbox", "rule_created", hit[0], hit[1])]

    def write(self, path: Path, plans: list[MessagePlan], ctx: CustomerContext) -> bool:
        rules = ctx.extra.get("inbox_rules", {}).get("rules", [])
        if not rules:
            return False
        rng = random.Random(f"{ctx.seed}:{ctx.name}:{self.format}:records")
        buf = io.StringIO()
        out = csv.writer(buf, lineterminator="\r\n")
        out.writerow(["CreationDate", "UserIds", "Operations", "AuditData"])
        for r in rules:
            rec = self._record(r, ctx, rng)
            out.writerow([f"{r['ts']:%Y-%m-%dT%H:%M:%S}.0000000Z", rec["UserId"], rec["Operation"],
                          json.dumps(rec, separators=(",", ":"))])
        path.write_text("\ufeff" + buf.getvalue(), encoding="utf-8", newline="")
        return True

    @staticmethod
    def _record(r: dict, ctx: CustomerContext, rng: random.Random) -> dict:
        tenant = ctx.profile.tenant
        email, sender, variant = r["email"], r["sender"], r["variant"]
        word = subject_word(r["subject"])
        name = {"from_move": "Move HR mail", "domain_delete": "Delete notices", "subject_deleted_items": "Tidy up",
                "mapi_move": "Sort portal mail", "set_from_subject": "Archive portal mail",
                "other_sender": "Newsletters", "mark_read_only": "Read HR mail", "other_subject": "Invoices",
                "sender_and_other_subject": "HR newsletters", "mapi_other": "Team digest",
                "failed_cmdlet": "Delete HR mail"}[variant]
        common = {
            "CreationTime": f"{r['ts']:%Y-%m-%dT%H:%M:%S}", "Id": str(uuid.UUID(int=rng.getrandbits(128))),
            "OrganizationId": ctx.extra["tenant_id"], "UserKey": f"1003{rng.getrandbits(48):012X}", "Version": 1,
            "Workload": "Exchange",
            "ClientIP": f"100.{rng.randint(64, 127)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}:{rng.randint(1024, 65000)}",
            "OrganizationName": tenant, "OriginatingServer": f"AM6PR01MB{rng.randint(1000, 9999)} (15.20.7452.028)",
        }
        if variant in ("mapi_move", "mapi_other"):
            target = sender if variant == "mapi_move" else OTHER_SENDER
            actions = [{"ActionType": "Move", "DestinationFolderId": "LgAAAAD" + f"{rng.getrandbits(160):040x}",
                        "FolderIsInThisStore": "True"}]
            return {**common, "Operation": "UpdateInboxRules", "RecordType": 2, "ResultStatus": "Succeeded",
                    "UserType": 0, "UserId": email, "MailboxOwnerUPN": email,
                    "MailboxGuid": str(uuid.UUID(int=rng.getrandbits(128))), "ClientInfoString": "Client=MSExchangeRPC",
                    "ExternalAccess": False, "LogonType": 0, "InternalLogonType": 0,
                    "OperationProperties": [
                        {"Name": "RuleOperation", "Value": "AddMailboxRule"},
                        {"Name": "RuleId", "Value": str(rng.getrandbits(60))},
                        {"Name": "RuleName", "Value": name},
                        {"Name": "RuleCondition", "Value": f"((SenderSearchKey Equal SMTP:{target.upper()}))"},
                        {"Name": "RuleActions", "Value": json.dumps(actions, separators=(",", ":"))},
                        {"Name": "RuleState", "Value": "Enabled, ExitAfterExecution"},
                        {"Name": "RuleProvider", "Value": "RuleOrganizer"}],
                    "ParentFolder": {"Name": "Inbox", "Path": "\\Inbox"}}
        params = {
            "from_move": [("From", sender), ("MoveToFolder", "Conversation History"), ("MarkAsRead", "True"),
                          ("StopProcessingRules", "True")],
            "domain_delete": [("FromAddressContainsWords", sender.split("@")[1]), ("DeleteMessage", "True")],
            "subject_deleted_items": [("SubjectContainsWords", f"{word};unsubscribe"),
                                      ("MoveToFolder", "Deleted Items")],
            "set_from_subject": [("From", sender), ("SubjectContainsWords", word), ("MoveToFolder", "Archive")],
            "other_sender": [("From", OTHER_SENDER), ("MoveToFolder", "Newsletters")],
            "mark_read_only": [("From", sender), ("MarkAsRead", "True")],
            "other_subject": [("SubjectContainsWords", "invoice;webinar"), ("DeleteMessage", "True")],
            "sender_and_other_subject": [("From", sender), ("SubjectContainsWords", "newsletter"),
                                         ("MoveToFolder", "Newsletters")],
            "failed_cmdlet": [("From", sender), ("DeleteMessage", "True")],
        }[variant]
        object_id = (f"EURPR01A001.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/{tenant}/"
                     f"{uuid.UUID(int=rng.getrandbits(128))}\\{name}")
        if variant == "set_from_subject":  # an administrator changes the user's rule
            operation, user, head = "Set-InboxRule", f"admin@{tenant}", [("Identity", f"{email}\\{name}")]
        else:
            operation, user, head = "New-InboxRule", email, [("AlwaysDeleteOutlookRulesBlob", "False"),
                                                             ("Force", "False"), ("Name", name)]
        return {**common, "Operation": operation, "RecordType": 1,
                "ResultStatus": "False" if variant == "failed_cmdlet" else "True",
                "UserType": 2 if user == email else 0,
                "UserId": user, "ObjectId": object_id, "AppId": "00000002-0000-0ff1-ce00-000000000000",
                "ClientAppId": "", "ExternalAccess": False,
                "Parameters": [{"Name": k, "Value": v} for k, v in head + params],
                "SessionId": str(uuid.UUID(int=rng.getrandbits(128)))}


WRITER = M365InboxRulesJson()
