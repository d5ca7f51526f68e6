"""Unified audit log inbox-rule records (formats.md §3.3.2, §5.3): ``New-InboxRule`` / ``Set-InboxRule``
(cmdlet ``Parameters[{Name, Value}]``, possibly a JSON string) and ``UpdateInboxRules`` (Outlook/MAPI,
``OperationProperties[{Name, Value}]`` with ``RuleOperation``, ``RuleName``, ``RuleCondition``,
``RuleActions``).

Containers are read by ``phishtrace.loaders._ual`` (JSON lines, JSON array, audit search CSV with an
``AuditData`` column); records of other operations are skipped. One raw row per record.
``CreationTime`` has no zone and is read as UTC (Management API convention, formats.md §3.3).

What the loader extracts (the rule content; the raw ``record`` keeps everything):

* mailbox owner: the cmdlet's ``Mailbox`` parameter or the mailbox part of ``Identity``
  (``user@domain\\rule``) when it is an address, else ``MailboxOwnerUPN``, else ``UserId``;
* ``senders``: ``From`` addresses and ``FromAddressContainsWords`` words (cmdlets; ``;``-separated; a leading ``@`` dropped),
  ``SMTP:<address>`` tokens of ``RuleCondition`` (e.g. ``((SenderSearchKey Equal SMTP:HELP@X.COM))``),
  lower-case, joined with ``|``;
* ``subject_words``: ``SubjectContainsWords`` and ``SubjectOrBodyContainsWords`` (``;``-separated),
  joined with ``|``. ``ExceptIf*`` parameters are exceptions and are not read as conditions;
* ``rule_action``: ``delete`` (``DeleteMessage``/``SoftDeleteMessage`` True, RuleActions ``Delete``)
  or ``move`` (``MoveToFolder``, RuleActions ``Move`` with its ``DestinationFolderId``), else NULL.
  A rule that neither moves nor deletes (mark as read, forward, ...) is still loaded, with no
  location, so an analyst sees it; ``action_detail`` lists its actions.

``RuleCondition`` forms other than ``SMTP:`` sender keys are not documented (§3.3.2) and are kept
only in ``rule_condition``. ``ModifyMailboxRule`` records often carry blank rule bodies; they load
with empty conditions. The staging view leaves out failed cmdlets (``ResultStatus`` False/Failed)
and ``RemoveMailboxRule`` operations.
"""

from __future__ import annotations

import json
import re
from typing import Any

from phishtrace.loaders import _ual
from phishtrace.registry import Loader, Parsed, Reject, SourceFile
from phishtrace.timeparse import TimeParseError

OPERATIONS = ("New-InboxRule", "Set-InboxRule", "UpdateInboxRules")
_PATTERN = _ual.operation_pattern(OPERATIONS)
EXPECTED = ("unified audit log New-InboxRule / Set-InboxRule / UpdateInboxRules records "
            "(JSON lines, JSON array or audit CSV with AuditData)")

_SMTP = re.compile(r"SMTP:([^\s()\"',;]+)", re.I)
_ANGLE = re.compile(r"<([^<>\s]+@[^<>\s]+)>")
# cmdlet actions that neither move nor delete, reported in action_detail
_OTHER_ACTIONS = ("MarkAsRead", "MarkImportance", "ForwardTo", "ForwardAsAttachmentTo", "RedirectTo",
                  "CopyToFolder", "ApplyCategory", "ApplySystemCategory", "PinMessage",
                  "SendTextMessageNotificationTo", "StopProcessingRules")
_FALSE = {"", "false", "0", "no", "none", "null", "[]"}


def _split(value: str | None, seps: str = ";") -> list[str]:
    if not value:
        return []
    return [p.strip() for p in re.split(f"[{re.escape(seps)}]", value) if p.strip()]


def _sender(value: str) -> str:
    m = _ANGLE.search(value)
    addr = m.group(1) if m else value
    addr = addr.strip().strip("\"'")
    if addr.lower().startswith("smtp:"):
        addr = addr[5:]
    return addr.lower()


def _join(values: list[str]) -> str | None:
    seen = list(dict.fromkeys(v for v in values if v))
    return "|".join(seen) if seen else None


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in _FALSE


def _tail(value: str | None) -> str | None:
    return value.rsplit("\\", 1)[-1].strip() or None if value else None


class M365InboxRules(Loader):
    name = "m365_inbox_rules_json"
    hop = "mailbox"
    produces = "mail_events"
    recognised_by = ("unified audit log records with Operation New-InboxRule, Set-InboxRule or UpdateInboxRules "
                     "(JSON lines, JSON array, or audit search CSV with AuditData)")
    columns = {
        "record_id": "VARCHAR", "operation": "VARCHAR", "creation_time": "VARCHAR", "result_status": "VARCHAR",
        "user_id": "VARCHAR", "mailbox_owner": "VARCHAR", "object_id": "VARCHAR", "rule_id": "VARCHAR",
        "rule_name": "VARCHAR", "rule_operation": "VARCHAR", "senders": "VARCHAR", "subject_words": "VARCHAR",
        "rule_action": "VARCHAR", "action_detail": "VARCHAR", "folder": "VARCHAR", "rule_condition": "VARCHAR",
        "rule_actions": "VARCHAR", "client_ip": "VARCHAR", "record": "VARCHAR", "event_ts": "TIMESTAMPTZ",
    }
    ts_column = "event_ts"

    def sniff(self, head: bytes, text: str) -> bool:
        return _ual.looks_like_audit(text, _PATTERN)

    def parse(self, src: SourceFile) -> Parsed:
        records, rejects = _ual.read_audit_records(src, OPERATIONS, EXPECTED)
        rows: list[dict[str, Any]] = []
        for line, record in records:
            row = self._row(line, record)
            (rejects if isinstance(row, Reject) else rows).append(row)
        return Parsed(rows=rows, rejects=rejects)

    def _row(self, line: int, record: dict[str, Any]) -> dict[str, Any] | Reject:
        get = {k.lower(): v for k, v in record.items()}.get
        row: dict[str, Any] = {
            "source_row": line,
            "record_id": _ual.text(get("id")),
            "operation": record["Operation"].strip(),
            "creation_time": _ual.text(get("creationtime")),
            "result_status": _ual.text(get("resultstatus")),
            "user_id": _ual.text(get("userid")),
            "object_id": _ual.text(get("objectid")),
            "client_ip": _ual.text(get("clientip")) or _ual.text(get("clientipaddress")),
            "record": json.dumps(record, ensure_ascii=False),
        }
        try:
            row["event_ts"] = _ual.audit_time(row["creation_time"], "CreationTime")
        except TimeParseError as exc:
            return Reject(line, f"{exc}: expected ISO 8601 such as 2023-09-26T01:56:15 (UTC)")
        try:
            if row["operation"].lower() == "updateinboxrules":
                self._mapi(row, _ual.name_values(get("operationproperties")), get("mailboxownerupn"))
            else:
                self._cmdlet(row, _ual.name_values(get("parameters")))
        except ValueError as exc:
            return Reject(line, f"unreadable rule content: {exc}")
        if not row.get("mailbox_owner"):
            return Reject(line, "no UserId / mailbox: expected the mailbox the rule belongs to")
        return row

    @staticmethod
    def _cmdlet(row: dict[str, Any], p: dict[str, str | None]) -> None:
        identity = p.get("identity")
        owner = p.get("mailbox") or (identity.rsplit("\\", 1)[0] if identity and "\\" in identity else None)
        row["mailbox_owner"] = owner if owner and "@" in owner else row["user_id"]
        row["rule_name"] = p.get("name") or _tail(identity) or _tail(row["object_id"])
        row["rule_id"] = row["object_id"]
        row["senders"] = _join([_sender(v) for v in _split(p.get("from"), ";,")] +
                               [w.lower().lstrip("@") for w in _split(p.get("fromaddresscontainswords"))])
        row["subject_words"] = _join(_split(p.get("subjectcontainswords")) +
                                     _split(p.get("subjectorbodycontainswords")))
        delete = next((n for n in ("DeleteMessage", "SoftDeleteMessage") if _truthy(p.get(n.lower()))), None)
        if delete:
            row["rule_action"], row["action_detail"] = "delete", delete
        elif _truthy(p.get("movetofolder")):
            row["rule_action"], row["action_detail"] = "move", "MoveToFolder"
            row["folder"] = p["movetofolder"].strip()
        else:
            others = [n for n in _OTHER_ACTIONS if _truthy(p.get(n.lower()))]
            row["action_detail"] = (", ".join(others) if others else "no action recorded") + " (no move or delete)"

    @staticmethod
    def _mapi(row: dict[str, Any], p: dict[str, str | None], owner_upn: Any) -> None:
        row["mailbox_owner"] = _ual.text(owner_upn) or row["user_id"]
        row["rule_operation"] = p.get("ruleoperation")
        row["rule_name"] = p.get("rulename")
        row["rule_id"] = p.get("ruleid") or row["object_id"]
        row["rule_condition"] = p.get("rulecondition")
        row["rule_actions"] = p.get("ruleactions")
        row["senders"] = _join([m.lower() for m in _SMTP.findall(row["rule_condition"] or "")])
        try:
            actions = json.loads(row["rule_actions"]) if row["rule_actions"] else []
        except json.JSONDecodeError as exc:
            raise ValueError(f"RuleActions is not JSON ({exc.msg})") from None
        if isinstance(actions, dict):
            actions = [actions]
        kinds = [(str(a.get("ActionType", "")).strip(), a) for a in actions if isinstance(a, dict)]
        delete = next((k for k, _ in kinds if k.lower() in ("delete", "permanentdelete", "harddelete")), None)
        move = next(((k, a) for k, a in kinds if k.lower() == "move"), None)
        if delete:
            row["rule_action"], row["action_detail"] = "delete", delete
        elif move:
            row["rule_action"], row["action_detail"] = "move", move[0]
            folder = move[1].get("DestinationFolderName") or move[1].get("DestinationFolderId")
            row["folder"] = _ual.text(folder)
        else:
            others = [k for k, _ in kinds if k]
            row["action_detail"] = (", ".join(others) if others else "no action recorded") + " (no move or delete)"
