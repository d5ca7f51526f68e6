"""Abnormal Security threats API message records (formats.md §2.4, §5.2): post-delivery remediation.

Accepted shapes, as JSON lines, one JSON array, or one JSON document:

* per-message records as in formats.md §2.4 (``threatId``, ``abxMessageId``/``abxMessageIdStr``,
  ``internetMessageId`` with brackets, ``recipientAddress``, ``toAddresses[]``, ``fromAddress``,
  ``returnPath``, ``subject``, ``receivedTime``/``sentTime``, ``remediationStatus``,
  ``remediationTimestamp``, ``autoRemediated``, ``postRemediated``, ``isRead``, ...);
* a threat detail response ``{"threatId": ..., "messages": [<message>, ...]}`` (``GET
  /v1/threats/{threatId}``); its messages inherit the threat id;
* ``{"threats": [<threat detail>, ...]}`` holding such threats.

One raw row per recipient: ``recipientAddress`` (the mailbox Abnormal acted on), else each address
of ``toAddresses``. Times are ISO 8601 with ``Z`` (``remediationTimestamp`` with microseconds); a
value without a zone is rejected. ``source_row`` is the line (JSON lines) or the message's number in
a single JSON document.

The mapping is in ``sql/10_staging/stg_abnormal_threats_json.sql``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from phishtrace.loaders._json_records import read_documents
from phishtrace.registry import Loader, Parsed, Reject, SourceFile
from phishtrace.timeparse import TimeParseError, parse_iso

EXPECTED = "Abnormal Security threats API message records (threatId, internetMessageId, receivedTime, ...)"

# raw column -> record key
FIELDS = {
    "threat_id": "threatId",
    "abx_message_id": "abxMessageIdStr",
    "internet_message_id": "internetMessageId",
    "recipient_address": "recipientAddress",
    "to_addresses": "toAddresses",
    "from_address": "fromAddress",
    "from_name": "fromName",
    "return_path": "returnPath",
    "subject": "subject",
    "sent_time": "sentTime",
    "received_time": "receivedTime",
    "remediation_status": "remediationStatus",
    "remediation_time": "remediationTimestamp",
    "auto_remediated": "autoRemediated",
    "post_remediated": "postRemediated",
    "is_read": "isRead",
    "attack_type": "attackType",
    "attack_vector": "attackVector",
    "attack_strategy": "attackStrategy",
    "summary_insights": "summaryInsights",
}
_USED = set(FIELDS.values()) | {"abxMessageId"}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    return json.dumps(value, ensure_ascii=False)


def _messages(value: Any, threat_id: Any = None) -> Iterator[Any]:
    """Message records inside a top-level value (array, threat detail, {"threats": [...]}, record)."""
    if isinstance(value, list):
        for item in value:
            yield from _messages(item, threat_id)
    elif isinstance(value, dict) and isinstance(value.get("threats"), list):
        yield from _messages(value["threats"], threat_id)
    elif isinstance(value, dict) and isinstance(value.get("messages"), list):
        for item in value["messages"]:
            if isinstance(item, dict) and "threatId" not in item and value.get("threatId") is not None:
                item = {"threatId": value["threatId"], **item}
            yield item
    else:
        yield value


class AbnormalThreats(Loader):
    name = "abnormal_threats_json"
    hop = "mailbox"
    produces = "mail_events"
    recognised_by = ("Abnormal Security threats API JSON: message records with abxMessageId / threatId and "
                     "remediationStatus, or threat details with messages[]")
    columns = {**{c: "VARCHAR" for c in FIELDS}, "recipient": "VARCHAR", "extra": "VARCHAR",
               "received_ts": "TIMESTAMPTZ", "remediation_ts": "TIMESTAMPTZ"}
    ts_column = "received_ts"

    def sniff(self, head: bytes, text: str) -> bool:
        body = text.lstrip("\ufeff \t\r\n")
        if not body.startswith(("{", "[")):
            return False
        return '"abxMessageId' in body or ('"threatId"' in body and '"remediationStatus"' in body)

    def parse(self, src: SourceFile) -> Parsed:
        values, rejects, single = read_documents(src, EXPECTED)
        rows: list[dict[str, Any]] = []
        for pos, value in values:
            for n, record in enumerate(_messages(value), start=1):
                made = self._rows(n if single else pos, record)
                if isinstance(made, Reject):
                    rejects.append(made)
                else:
                    rows.extend(made)
        times = [t for r in rows for t in (r["received_ts"], r["remediation_ts"]) if t is not None]
        return Parsed(rows=rows, rejects=rejects, window=(min(times), max(times)) if times else None)

    @staticmethod
    def _rows(line: int, record: Any) -> list[dict[str, Any]] | Reject:
        if not isinstance(record, dict):
            return Reject(line, f"expected a JSON object: {EXPECTED}")
        base: dict[str, Any] = {"source_row": line}
        for col, key in FIELDS.items():
            base[col] = _text(record.get(key))
        base["abx_message_id"] = base["abx_message_id"] or _text(record.get("abxMessageId"))
        if not base["received_time"]:
            return Reject(line, f"no receivedTime: expected {EXPECTED}")
        for col, key in (("received", "receivedTime"), ("remediation", "remediationTimestamp")):
            value = base[f"{col}_time"]
            try:
                base[f"{col}_ts"] = parse_iso(value, naive_tz=None) if value else None
            except TimeParseError:
                return Reject(line, f"bad {key} {value!r}: expected ISO 8601 with its zone, such as "
                                    "2024-07-17T23:35:24.850565Z")
        recipients = record.get("recipientAddress")
        if not (isinstance(recipients, str) and recipients.strip()):
            recipients = record.get("toAddresses")
        if isinstance(recipients, str):
            recipients = [recipients]
        found = [r for r in recipients or [] if isinstance(r, str) and r.strip()] if isinstance(recipients, list) else []
        if not found:
            return Reject(line, "no recipientAddress or toAddresses: expected the mailbox the message reached")
        extra = {k: v for k, v in record.items() if k not in _USED and v not in (None, "", [], {})}
        base["extra"] = json.dumps(extra, ensure_ascii=False) if extra else None
        return [{**base, "recipient": r} for r in found]
