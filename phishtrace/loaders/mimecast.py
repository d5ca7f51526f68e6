"""Mimecast SIEM logs (formats.md §2.2): legacy SIEM v1 (`mimecast_siem`) and API 2.0 SIEM (`mimecast_api2_json`).

Reading (both loaders): a file is one JSON document (an array, an API response ``{"data": [...]}``, or one
record), or one record per line. A JSON line may hold several records (``{...},{...}``, as in elastic's
test-siem-logs.log) or a whole array. `mimecast_siem` also reads key=value lines
(``datetime=…|aCode=…|Subject=\\text\\|…``): fields split on ``|`` outside ``\\…\\``, which is stripped
(formats.md §2.2.1 gotcha). ``source_row`` is the line number, or the record number for a file that is one
JSON document. A record of the other generation stops the load with an InputError naming the loader to use.

v1 log kind (column ``log_kind``) is decided from the keys, case-insensitively, after elastic's
mimecast v1 pipeline: delivery (``Delivered``, ``ReceiptAck``, ``Attempt``, ``Err``…), journal
(``RcptActType``), receipt (``Act`` with ``Rcpt``, or receipt-only keys such as ``SpamScore``, ``IP``,
``RejType``), process (``Act`` without a recipient), impersonation (``Definition``, ``TaggedMalicious``…),
internal_email_protect (``ScanResultInfo``), url_protect (``url``/``reason``: TTP URL click logs), av
(``Virus``), attachment_protect (``fileName``/hashes), spam (``SourceIP``), else other. API 2.0 uses its
``type``/``eventType`` field (spaces kept: ``url protect``).

Times: v1 ``datetime`` carries its offset (``+0100``, no colon); API 2.0 ``timestamp`` is epoch milliseconds
(a string or a number). Both are stored as UTC. The mapping onto actions is in the staging SQL
(``stg_mimecast_siem.sql``, ``stg_mimecast_api2_json.sql``); process records carry no recipient and are
joined there to the receipt/delivery records of the same message.

Click records: TTP URL logs carry ``url`` and the GoPhish ``rid`` is taken from it (also URL-encoded).
Their ``sourceIp`` is "the source IP of the original message" (elastic's Mimecast field reference), not
the clicking client, so ``client_ip``/``user_agent`` are filled only from explicit click keys
(``clientIp``, ``clickIp``, ``userIp``, ``userAgent``) when a record has them.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

from phishtrace.errors import InputError
from phishtrace.loaders._filter_helpers import reply_code, rid_token
from phishtrace.registry import Loader, Parsed, Reject, SourceFile
from phishtrace.timeparse import TimeParseError, from_epoch, parse_iso

_KV_FIELD = re.compile(r"([A-Za-z][\w.-]*)=(?:\\(.*?)\\(?=\||$)|([^|]*))(?:\||$)")
_KV_START = re.compile(r"^\ufeff?\s*[A-Za-z][\w.-]*=[^|]*\|")
_V1_JSON = re.compile(r'"datetime"\s*:\s*"\d{4}-\d{2}-\d{2}T')
_V2_JSON = re.compile(r'"(?:processingId|aggregateId)"\s*:')
_V2_TYPE = re.compile(r'"(?:type|eventType)"\s*:')

V1_EXPECTED = "Mimecast SIEM v1 records (key=value lines 'datetime=…|aCode=…' or JSON with datetime/acc)"
V2_EXPECTED = "Mimecast API 2.0 SIEM JSON records (type/subtype, epoch-ms timestamp, processingId/aggregateId)"
_CLICK_IP_KEYS = ("clientip", "clickip", "userip", "useripaddress")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    text = str(value).strip()
    return text or None


def parse_kv(line: str) -> dict[str, str]:
    """One key=value SIEM line; raises ValueError for text that is not key=value fields."""
    rec: dict[str, str] = {}
    pos, end = 0, len(line)
    while pos < end:
        m = _KV_FIELD.match(line, pos)
        if not m or m.end() == pos:
            raise ValueError(f"expected key=value fields separated by '|' at column {pos + 1}")
        key, quoted, plain = m.group(1), m.group(2), m.group(3)
        if quoted is None and plain.startswith("\\"):
            raise ValueError(f"value of {key} opens with '\\' but is not closed (truncated line?)")
        rec.setdefault(key, quoted if quoted is not None else plain)
        pos = m.end()
    if not rec:
        raise ValueError("expected key=value fields separated by '|'")
    return rec


def _unwrap(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [item for v in value for item in _unwrap(v)]
    if isinstance(value, dict) and isinstance(value.get("data"), list) and "datetime" not in value:
        return _unwrap(value["data"])
    return [value]


def read_records(src: SourceFile, expected: str, allow_kv: bool) -> tuple[list[tuple[int, str, Any]], list[Reject]]:
    """(position, shape 'json'|'kv', record) for every record in the file, and the lines that could not be read."""
    text = src.text()
    if not text.strip():
        raise InputError(src.path, 1, f"empty file: expected {expected}")
    if text.lstrip().startswith(("[", "{")):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            pass
        else:
            items = _unwrap(doc)
            return [(n, "json", item) for n, item in enumerate(items, start=1)], []
    out: list[tuple[int, str, Any]] = []
    rejects: list[Reject] = []
    for n, line in enumerate(text.splitlines(), start=1):
        s = line.strip().lstrip("\ufeff")
        if not s or s in ("[", "]", ",", "],"):
            continue
        if s[0] in "{[":
            try:
                value = json.loads(s)
            except json.JSONDecodeError as exc:
                try:
                    value = json.loads("[" + s.rstrip(",") + "]")
                except json.JSONDecodeError:
                    rejects.append(Reject(n, f"not valid JSON ({exc.msg}, column {exc.colno}): expected {expected}"))
                    continue
            out.extend((n, "json", item) for item in _unwrap(value))
        elif allow_kv:
            try:
                out.append((n, "kv", parse_kv(s)))
            except ValueError as exc:
                rejects.append(Reject(n, f"{exc}: expected {expected}"))
        else:
            out.append((n, "kv", None))
    return out, rejects


def _lower(rec: dict[str, Any]) -> dict[str, Any]:
    low: dict[str, Any] = {}
    for key, value in rec.items():
        low.setdefault(str(key).lower(), value)
    return low


def _get(low: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = _text(low.get(name))
        if value is not None:
            return value
    return None


def generation(low: dict[str, Any]) -> str | None:
    """'v1' (datetime), 'v2' (epoch timestamp with processingId/aggregateId/type), or None."""
    if "datetime" in low:
        return "v1"
    if "timestamp" in low and any(k in low for k in ("processingid", "aggregateid", "type", "eventtype")):
        return "v2"
    return None


_DELIVERY_KEYS = {"delivered", "receiptack", "attempt", "latency", "snt", "usetls", "err"}
_RECEIPT_KEYS = {"rcpt", "ip", "spaminfo", "spamlimit", "spamscore", "spamprocessingdetail", "tlsver", "cphr",
                 "error", "rejtype", "rejcode", "rejinfo", "headerfrom"}
_IMPERSONATION_KEYS = {"definition", "taggedmalicious", "hits", "customname", "internalname", "newdomain",
                       "replymismatch", "taggedexternal", "threatdictionary"}


def v1_kind(low: dict[str, Any]) -> str:
    keys = set(low)
    if keys & _DELIVERY_KEYS:
        return "delivery"
    if "rcptacttype" in keys:
        return "journal"
    if "act" in keys:
        return "receipt" if keys & _RECEIPT_KEYS else "process"
    if keys & _IMPERSONATION_KEYS:
        return "impersonation"
    if "scanresultinfo" in keys:
        return "internal_email_protect"
    if "url" in keys or "reason" in keys:
        return "url_protect"
    if keys & {"virus", "customerip", "mimecastip", "senderdomaininternal"}:
        return "av"
    if keys & {"filename", "sha256", "sha1", "md5"}:
        return "attachment_protect"
    if "sourceip" in keys:
        return "spam"
    return "other"


def _click_fields(low: dict[str, Any]) -> dict[str, str | None]:
    url = _get(low, "url")
    return {
        "url": url,
        "token": rid_token(url),
        "client_ip": _get(low, *_CLICK_IP_KEYS),
        "user_agent": _get(low, "useragent", "user_agent"),
    }


def _sniff_lines(text: str) -> list[str]:
    return [line for line in text.splitlines()[:20] if line.strip()]


class MimecastSiem(Loader):
    name = "mimecast_siem"
    hop = "filter"
    produces = "mail_events"
    recognised_by = (
        "Mimecast legacy SIEM v1 logs: pipe-delimited key=value lines starting 'datetime=…|' with aCode/acc, "
        "or JSON records with datetime and acc (receipt, process, delivery, TTP URL, …)"
    )
    columns = {
        "shape": "VARCHAR",
        "log_kind": "VARCHAR",
        "logged_at": "VARCHAR",
        "event_ts": "TIMESTAMPTZ",
        "acode": "VARCHAR",
        "account": "VARCHAR",
        "message_id": "VARCHAR",
        "sender": "VARCHAR",
        "header_from": "VARCHAR",
        "recipient": "VARCHAR",
        "subject": "VARCHAR",
        "act": "VARCHAR",
        "hold_reason": "VARCHAR",
        "delivered": "VARCHAR",
        "error": "VARCHAR",
        "rej_type": "VARCHAR",
        "rej_code": "VARCHAR",
        "rej_info": "VARCHAR",
        "reply_code": "VARCHAR",
        "receipt_ack": "VARCHAR",
        "attempt": "VARCHAR",
        "direction": "VARCHAR",
        "route": "VARCHAR",
        "ip": "VARCHAR",
        "url": "VARCHAR",
        "url_category": "VARCHAR",
        "scan_result": "VARCHAR",
        "policy_action": "VARCHAR",
        "definition": "VARCHAR",
        "virus": "VARCHAR",
        "client_ip": "VARCHAR",
        "user_agent": "VARCHAR",
        "token": "VARCHAR",
        "record": "JSON",
    }
    ts_column = "event_ts"

    def sniff(self, head: bytes, text: str) -> bool:
        lines = _sniff_lines(text)
        if not lines:
            return False
        first = lines[0].lstrip("\ufeff \t")
        if _KV_START.match(first):
            return "datetime=" in first and ("aCode=" in first or "acc=" in first)
        if not first.startswith(("{", "[")):
            return False
        return bool(_V1_JSON.search(text)) and '"acc"' in text and not _V2_JSON.search(text)

    def parse(self, src: SourceFile) -> Parsed:
        items, rejects = read_records(src, V1_EXPECTED, allow_kv=True)
        rows: list[dict[str, Any]] = []
        for pos, shape, rec in items:
            if not isinstance(rec, dict):
                rejects.append(Reject(pos, f"expected a JSON object, got {type(rec).__name__}: {V1_EXPECTED}"))
                continue
            low = _lower(rec)
            if generation(low) == "v2":
                raise InputError(src.path, pos, "this is a Mimecast API 2.0 SIEM record (epoch-ms timestamp, "
                                 "processingId/aggregateId): load the file as mimecast_api2_json")
            try:
                rows.append(self._row(pos, shape, rec, low))
            except (TimeParseError, ValueError) as exc:
                rejects.append(Reject(pos, str(exc)))
        return Parsed(rows=rows, rejects=rejects)

    def _row(self, pos: int, shape: str, rec: dict[str, Any], low: dict[str, Any]) -> dict[str, Any]:
        logged_at = _get(low, "datetime")
        if logged_at is None:
            raise ValueError(f"record without datetime: expected {V1_EXPECTED}")
        event_ts = parse_iso(logged_at, naive_tz=None)
        kind = v1_kind(low)
        error = _get(low, "err", "error")
        rej_code, rej_info = _get(low, "rejcode"), _get(low, "rejinfo")
        clicks = _click_fields(low) if kind in ("url_protect", "internal_email_protect") else {}
        return {
            "source_row": pos,
            "shape": shape,
            "log_kind": kind,
            "logged_at": logged_at,
            "event_ts": event_ts,
            "acode": _get(low, "acode"),
            "account": _get(low, "acc"),
            "message_id": _get(low, "msgid"),
            "sender": _get(low, "sender"),
            "header_from": _get(low, "headerfrom"),
            "recipient": _get(low, "rcpt", "recipient"),
            "subject": _get(low, "subject"),
            "act": _get(low, "act"),
            "hold_reason": _get(low, "hld"),
            "delivered": (_get(low, "delivered") or "").lower() or None,
            "error": error,
            "rej_type": _get(low, "rejtype"),
            "rej_code": rej_code,
            "rej_info": rej_info,
            "reply_code": reply_code(rej_code, rej_info, error),
            "receipt_ack": _get(low, "receiptack"),
            "attempt": _get(low, "attempt"),
            "direction": _get(low, "dir"),
            "route": _get(low, "route"),
            "ip": _get(low, "ip", "sourceip"),
            "url_category": _get(low, "urlcategory"),
            "scan_result": _get(low, "scanresultinfo", "reason", "blockreason"),
            "policy_action": _get(low, "action"),
            "definition": _get(low, "definition"),
            "virus": _get(low, "virus"),
            "url": clicks.get("url"),
            "token": clicks.get("token"),
            "client_ip": clicks.get("client_ip"),
            "user_agent": clicks.get("user_agent"),
            "record": json.dumps(rec, ensure_ascii=False),
        }


def _recipients(value: Any) -> list[str | None]:
    if isinstance(value, list):
        parts = [str(v) for v in value if v is not None]
    elif value is None:
        parts = []
    else:
        parts = re.split(r"[,;]", str(value))
    found = [p.strip() for p in parts if p.strip()]
    return found or [None]


class MimecastApi2Json(Loader):
    name = "mimecast_api2_json"
    hop = "filter"
    produces = "mail_events"
    recognised_by = (
        "Mimecast API 2.0 SIEM JSON records: processingId/aggregateId, type (or eventType) and an "
        "epoch-millisecond timestamp"
    )
    columns = {
        "record_type": "VARCHAR",
        "subtype": "VARCHAR",
        "logged_at": "VARCHAR",
        "event_ts": "TIMESTAMPTZ",
        "processing_id": "VARCHAR",
        "aggregate_id": "VARCHAR",
        "account_id": "VARCHAR",
        "message_id": "VARCHAR",
        "sender": "VARCHAR",
        "header_from": "VARCHAR",
        "sender_ip": "VARCHAR",
        "recipients": "VARCHAR",
        "recipient": "VARCHAR",
        "subject": "VARCHAR",
        "direction": "VARCHAR",
        "route": "VARCHAR",
        "action": "VARCHAR",
        "hold_reason": "VARCHAR",
        "rejection_type": "VARCHAR",
        "rejection_code": "VARCHAR",
        "rejection_info": "VARCHAR",
        "delivered": "VARCHAR",
        "delivery_attempts": "VARCHAR",
        "delivery_errors": "VARCHAR",
        "reply_code": "VARCHAR",
        "destination_host": "VARCHAR",
        "url": "VARCHAR",
        "url_category": "VARCHAR",
        "block_reason": "VARCHAR",
        "policy_definition": "VARCHAR",
        "client_ip": "VARCHAR",
        "user_agent": "VARCHAR",
        "token": "VARCHAR",
        "record": "JSON",
    }
    ts_column = "event_ts"

    def sniff(self, head: bytes, text: str) -> bool:
        lines = _sniff_lines(text)
        if not lines or not lines[0].lstrip("\ufeff \t").startswith(("{", "[")):
            return False
        return (bool(_V2_JSON.search(text)) and bool(_V2_TYPE.search(text)) and '"timestamp"' in text
                and not _V1_JSON.search(text))

    def parse(self, src: SourceFile) -> Parsed:
        items, rejects = read_records(src, V2_EXPECTED, allow_kv=False)
        rows: list[dict[str, Any]] = []
        for pos, shape, rec in items:
            if shape == "kv" or not isinstance(rec, dict):
                raise InputError(src.path, pos, f"expected a JSON record: {V2_EXPECTED} (key=value lines are the "
                                 "legacy SIEM v1 format: load them as mimecast_siem)")
            low = _lower(rec)
            if generation(low) == "v1":
                raise InputError(src.path, pos, "this is a legacy Mimecast SIEM v1 record (datetime with offset, "
                                 "aCode): load the file as mimecast_siem")
            try:
                rows.extend(self._rows(pos, rec, low))
            except (TimeParseError, ValueError) as exc:
                rejects.append(Reject(pos, str(exc)))
        return Parsed(rows=rows, rejects=rejects)

    def _rows(self, pos: int, rec: dict[str, Any], low: dict[str, Any]) -> Iterator[dict[str, Any]]:
        raw_ts = _get(low, "timestamp")
        if raw_ts is None:
            raise ValueError(f"record without timestamp: expected {V2_EXPECTED}")
        event_ts = from_epoch(raw_ts, "ms")
        rtype = _get(low, "type", "eventtype")
        if rtype is None:
            raise ValueError(f"record without type/eventType: expected {V2_EXPECTED}")
        rtype = re.sub(r"[\s_-]+", " ", rtype.lower())
        errors = _get(low, "deliveryerrors")
        code, info = _get(low, "rejectioncode"), _get(low, "rejectioninfo")
        clicks = _click_fields(low) if rtype in ("url protect", "internal email protect") else {}
        base = {
            "source_row": pos,
            "record_type": rtype,
            "subtype": _get(low, "subtype"),
            "logged_at": raw_ts,
            "event_ts": event_ts,
            "processing_id": _get(low, "processingid"),
            "aggregate_id": _get(low, "aggregateid"),
            "account_id": _get(low, "accountid"),
            "message_id": _get(low, "messageid"),
            "sender": _get(low, "senderenvelope"),
            "header_from": _get(low, "senderheader"),
            "sender_ip": _get(low, "senderip"),
            "recipients": _get(low, "recipients"),
            "subject": _get(low, "subject"),
            "direction": _get(low, "direction"),
            "route": _get(low, "route"),
            "action": _get(low, "action"),
            "hold_reason": _get(low, "holdreason"),
            "rejection_type": _get(low, "rejectiontype"),
            "rejection_code": code,
            "rejection_info": info,
            "delivered": (_get(low, "delivered") or "").lower() or None,
            "delivery_attempts": _get(low, "deliveryattempts"),
            "delivery_errors": errors,
            "reply_code": reply_code(code, info, errors),
            "destination_host": _get(low, "hostname", "destinationip"),
            "url_category": _get(low, "urlcategory"),
            "block_reason": _get(low, "blockreason", "scanresults"),
            "policy_definition": _get(low, "policydefinition"),
            "url": clicks.get("url"),
            "token": clicks.get("token"),
            "client_ip": clicks.get("client_ip"),
            "user_agent": clicks.get("user_agent"),
            "record": json.dumps(rec, ensure_ascii=False),
        }
        for recipient in _recipients(low.get("recipients")):
            yield {**base, "recipient": recipient}
