"""Google Workspace Email Log Search CSV export (`gmail_els_csv`), formats.md §3.5.2 and §5.3.

Columns follow the documented export fields (answer 13828463): `Message ID`, `Start date`,
`End date`, `Sender`, `Message size`, `Subject`, `Direction`, `Attachments`, `Recipient address`,
`Event target`. Header names are matched case-insensitively, ignoring spaces and punctuation.
No real export has been published, so several points are UNCERTAIN and handled as follows:

* Status columns are not documented. The delivery status is read from the first present of
  `Status`, `Delivery status`, `Message delivery status`, `Event status`; a post-delivery status
  from `Post-delivery status`; details from `Event details`, `Details` or `Status details`. A file
  needs `Message ID`, `Recipient address`, a time column and a status column or `Event target`.
* The event time is the first present of `Date`, `Event date`, `Timestamp`, `Time`, `Start date`.
  Its format and zone are not documented: ISO 8601 (with or without an offset, `UTC`/`GMT±hh:mm`
  suffixes) and en-US `M/d/yyyy h:mm:ss AM/PM` are accepted; a time without a zone needs `--tz`.
* `Recipient address` holding several addresses (`,` or `;`) gives one row per address.

Status mapping (stg_gmail_els_csv, case-insensitive, first rule that applies), after the status
texts of answer 2623280 and the §5.3 summary:

| status / target | action | location |
|---|---|---|
| Message ID `SMTPIN_ADDED_REJECT_SESSION` (ID unknown, SMTP rejected) | rejected | none |
| status containing `bounce` | bounced | none |
| status containing `quarantin` (wording UNCERTAIN) | quarantined | quarantine |
| status containing `reject` (wording UNCERTAIN) | rejected | none |
| `Bypassed spam` | passed | |
| status containing `spam`, or Event target `GMAIL_SPAM` | junked | junk |
| `Delivered to Gmail inbox`, or `Delivered`/no status with target `GMAIL_INBOX` | delivered | inbox |
| `Delivered to an SMTP server`, or `Delivered`/no status with target `SMTP_OUT` | relayed | external |
| `Delivered to a Google internal server` (an internal hop) | received | |
| other `Delivered…` | delivered | NULL (folder unknown) |
| `Archived`, `Accepted for archiving`, anything else | received | |

The post-delivery status values are not documented: they are kept in raw_status and reason only.
"""

from __future__ import annotations

import re
from datetime import timezone
from typing import Any

from phishtrace.errors import InputError
from phishtrace.loaders._csvutil import header_names, read_rows
from phishtrace.registry import Loader, Parsed, Reject, SourceFile
from phishtrace.timeparse import TimeParseError, parse_any, zone

TIME_COLUMNS = ("date", "eventdate", "timestamp", "time", "startdate")
STATUS_COLUMNS = ("status", "deliverystatus", "messagedeliverystatus", "eventstatus")
POST_COLUMNS = ("postdeliverystatus",)
DETAIL_COLUMNS = ("eventdetails", "details", "statusdetails")
EXPECTED = ("Email Log Search export with Message ID, Start date, End date, Sender, Subject, Direction, "
            "Recipient address, Event target and a status column")

_ZONE_SUFFIX = re.compile(r"\s*(?:GMT|UTC)\s*(?:([+-]\d{1,2})(?::?(\d{2}))?)?\s*$", re.IGNORECASE)
_SPLIT = re.compile(r"[;,]")


def _first(header: list[str], names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in header), None)


def _split_zone(value: str):
    """('2026-03-02 09:15:04', tzinfo) for a trailing 'UTC' / 'GMT' / 'GMT+01:00'; (value, None) otherwise."""
    m = _ZONE_SUFFIX.search(value)
    if not m or not re.search(r"\d", value[: m.start()]):
        return value, None
    if m.group(1) is None:
        return value[: m.start()], timezone.utc
    return value[: m.start()], zone(f"{m.group(1)}:{m.group(2) or '00'}")


class GmailElsCsv(Loader):
    name = "gmail_els_csv"
    hop = "server"
    produces = "mail_events"
    recognised_by = "CSV header with Message ID, Recipient address and Event target / Start date (Gmail Email Log Search)"
    columns = {
        "event_ts": "TIMESTAMPTZ",
        "event_time": "VARCHAR",
        "start_date": "VARCHAR",
        "end_date": "VARCHAR",
        "message_id": "VARCHAR",
        "sender": "VARCHAR",
        "subject": "VARCHAR",
        "direction": "VARCHAR",
        "message_size": "VARCHAR",
        "attachments": "VARCHAR",
        "recipient": "VARCHAR",
        "event_target": "VARCHAR",
        "status": "VARCHAR",
        "post_delivery_status": "VARCHAR",
        "details": "VARCHAR",
    }

    def sniff(self, head: bytes, text: str) -> bool:
        names = header_names(text)
        return "messageid" in names and "recipientaddress" in names and (
            "eventtarget" in names or "startdate" in names)

    def parse(self, src: SourceFile) -> Parsed:
        text = src.text()
        header, records = read_rows(src.path, text, ["Message ID", "Recipient address"], expected_desc=EXPECTED)
        time_col = _first(header, TIME_COLUMNS)
        status_col = _first(header, STATUS_COLUMNS)
        if time_col is None:
            raise InputError(src.path, 1, f"header lacks a time column (Start date or Date): expected {EXPECTED}")
        if status_col is None and "eventtarget" not in header:
            raise InputError(src.path, 1, f"header lacks a status column and Event target: expected {EXPECTED}")
        post_col = _first(header, POST_COLUMNS)
        detail_col = _first(header, DETAIL_COLUMNS)

        rows: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        for line, rec in records:
            if "__error__" in rec:
                rejects.append(Reject(line, rec["__error__"]))
                continue
            stamp = rec.get(time_col, "").strip()
            try:
                event_ts = self._when(src, line, stamp)
            except TimeParseError as exc:
                rejects.append(Reject(line, f"{time_col}: {exc}"))
                continue
            base = {
                "source_row": line,
                "event_ts": event_ts,
                "event_time": stamp or None,
                "start_date": rec.get("startdate") or None,
                "end_date": rec.get("enddate") or None,
                "message_id": rec.get("messageid") or None,
                "sender": rec.get("sender") or None,
                "subject": rec.get("subject") or None,
                "direction": rec.get("direction") or None,
                "message_size": rec.get("messagesize") or None,
                "attachments": rec.get("attachments") or None,
                "event_target": rec.get("eventtarget") or None,
                "status": (rec.get(status_col) if status_col else None) or None,
                "post_delivery_status": (rec.get(post_col) if post_col else None) or None,
                "details": (rec.get(detail_col) if detail_col else None) or None,
            }
            recipients = [r.strip() for r in _SPLIT.split(rec.get("recipientaddress", "")) if r.strip()]
            for recipient in recipients or [None]:
                rows.append({**base, "recipient": recipient})
        return Parsed(rows=rows, rejects=rejects)

    @staticmethod
    def _when(src: SourceFile, line: int, stamp: str):
        if not stamp:
            raise TimeParseError("empty time: expected a date and time")
        value, suffix_tz = _split_zone(stamp)
        try:
            return parse_any(value, naive_tz=suffix_tz)
        except TimeParseError:
            if suffix_tz is not None:
                raise
            if src.tz is not None:
                return parse_any(value, naive_tz=src.tz)
            parse_any(value)  # a malformed value raises its own error (a reject)
            raise InputError(src.path, line, f"time {stamp!r} carries no zone: give the zone the export "
                                              "was written in with --tz") from None

