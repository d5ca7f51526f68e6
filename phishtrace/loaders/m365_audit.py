"""Office 365 Management Activity ``TIMailData`` records (Workload ThreatIntelligence, RecordType 28),
formats.md §3.3.1 and §5.3.

Containers (JSON lines, a JSON array such as the Management API content blob, the audit search CSV
with an ``AuditData`` column) are read by ``phishtrace.loaders._ual``; records of other operations are
skipped. One raw row per address in ``Recipients[]``.

Time: ``CreationTime`` and ``MessageTime`` carry no zone and are read as UTC, the Management API
convention (formats.md marks it UNCERTAIN: not stated in the fixture), so ``--tz`` is not used. A
``MessageTime`` or ``CreationTime`` with an explicit zone is honoured.

The mapping to canonical events is in ``sql/10_staging/stg_m365_timaildata_json.sql``: the delivery
verdict at ``MessageTime`` (verdict_hop server), and, when ``LatestDeliveryLocation`` differs from
``OriginalDeliveryLocation``, a post-delivery event at ``CreationTime``. That ``CreationTime`` is
when the location changed is UNCERTAIN: it is when the record was written, the nearest time the
record offers.
"""

from __future__ import annotations

import json
from typing import Any

from phishtrace.loaders import _ual
from phishtrace.registry import Loader, Parsed, Reject, SourceFile
from phishtrace.timeparse import TimeParseError

OPERATIONS = ("TIMailData",)
_PATTERN = _ual.operation_pattern(OPERATIONS)
EXPECTED = "Office 365 Management Activity TIMailData records (JSON lines, JSON array or audit CSV with AuditData)"

# raw column -> record key
FIELDS = {
    "record_id": "Id",
    "creation_time": "CreationTime",
    "message_time": "MessageTime",
    "network_message_id": "NetworkMessageId",
    "internet_message_id": "InternetMessageId",
    "p1_sender": "P1Sender",
    "p2_sender": "P2Sender",
    "subject": "Subject",
    "directionality": "Directionality",
    "delivery_action": "DeliveryAction",
    "original_location": "OriginalDeliveryLocation",
    "latest_location": "LatestDeliveryLocation",
    "verdict": "Verdict",
    "detection_method": "DetectionMethod",
    "policy": "Policy",
    "policy_action": "PolicyAction",
    "phish_confidence": "PhishConfidenceLevel",
    "sender_ip": "SenderIp",
}
_USED = {k.lower() for k in FIELDS.values()} | {"recipients"}


class M365TIMailData(Loader):
    name = "m365_timaildata_json"
    hop = "mailbox"
    produces = "mail_events"
    recognised_by = ("Office 365 Management Activity / unified audit log records with Operation TIMailData "
                     "(JSON lines, JSON array, or audit search CSV with AuditData)")
    columns = {**{c: "VARCHAR" for c in FIELDS}, "recipient": "VARCHAR", "extra": "VARCHAR",
               "creation_ts": "TIMESTAMPTZ", "message_ts": "TIMESTAMPTZ"}
    ts_column = "message_ts"

    def sniff(self, head: bytes, text: str) -> bool:
        return _ual.looks_like_audit(text, _PATTERN)

    def parse(self, src: SourceFile) -> Parsed:
        records, rejects = _ual.read_audit_records(src, OPERATIONS, EXPECTED)
        rows: list[dict[str, Any]] = []
        for line, record in records:
            made = self._rows(line, record)
            if isinstance(made, Reject):
                rejects.append(made)
            else:
                rows.extend(made)
        times = [t for r in rows for t in (r["creation_ts"], r["message_ts"]) if t is not None]
        window = (min(times), max(times)) if times else None
        return Parsed(rows=rows, rejects=rejects, window=window)

    @staticmethod
    def _rows(line: int, record: dict[str, Any]) -> list[dict[str, Any]] | Reject:
        keys = {k.lower(): k for k in record}
        base: dict[str, Any] = {"source_row": line}
        for col, key in FIELDS.items():
            base[col] = _ual.text(record.get(keys.get(key.lower(), key)))
        try:
            created = _ual.audit_time(base["creation_time"], "CreationTime") if base["creation_time"] else None
            sent = _ual.audit_time(base["message_time"], "MessageTime") if base["message_time"] else None
        except TimeParseError as exc:
            return Reject(line, f"{exc}: expected ISO 8601 such as 2021-12-31T23:59:59 (UTC)")
        if created is None and sent is None:
            return Reject(line, "no CreationTime or MessageTime: expected a TIMailData record")
        base["creation_ts"] = created or sent
        base["message_ts"] = sent or created
        recipients = record.get(keys.get("recipients", "Recipients"))
        if isinstance(recipients, str):
            recipients = [recipients]
        if not isinstance(recipients, list) or not any(isinstance(r, str) and r.strip() for r in recipients):
            return Reject(line, "no Recipients[] addresses: expected a TIMailData record")
        extra = {k: v for k, v in record.items() if k.lower() not in _USED and v not in (None, "", [], {})}
        base["extra"] = json.dumps(extra, ensure_ascii=False) if extra else None
        return [{**base, "recipient": r} for r in recipients if isinstance(r, str) and r.strip()]
