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

Bulk path (`bulk`): DuckDB reads a UTF-8 comma-separated export whose header is its first line, for
the time shapes _event_ts() reads (a time without zone only with a fixed-offset --tz); any other
row goes to parse().
"""

from __future__ import annotations

import re
from datetime import timedelta, timezone
from typing import Any

from phishtrace.errors import InputError
from phishtrace.loaders import _bulk
from phishtrace.loaders._csvutil import header_names, norm_header, read_rows
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

    def bulk(self, src: SourceFile, lines: int) -> _bulk.Bulk | None:
        """DuckDB reads a comma-separated UTF-8 export whose header is its first line; a row parse()
        would reject or read otherwise (a time shape _event_ts() does not read, a naive time without a
        fixed --tz, white space other than the plain space in a recipient list) sends the file to parse()."""
        if not _bulk.is_utf8(src.head):
            return None
        fields = _bulk.csv_header(src.head)
        if fields is None:
            return None
        header = [norm_header(n) for n in fields]
        if not {"messageid", "recipientaddress"} <= set(header):
            return None
        time_col, status_col = _first(header, TIME_COLUMNS), _first(header, STATUS_COLUMNS)
        if time_col is None or status_col is None and "eventtarget" not in header:
            return None  # parse() refuses the file
        at = {name: f"c{i}" for i, name in enumerate(header)}  # the last of a repeated name, as dict(zip()) keeps it
        source = {col: at.get(key) for col, key in _SOURCE.items()}
        source.update(status=at.get(status_col) if status_col else None,
                      post_delivery_status=at.get(_first(header, POST_COLUMNS) or ""),
                      details=at.get(_first(header, DETAIL_COLUMNS) or ""))
        values = [f"nullif({c}, '') AS {col}" if c else f"NULL::VARCHAR AS {col}" for col, c in source.items()]
        # (trim() strips the plain space and the other Zs spaces, which str.strip() strips too: a value
        # that keeps other white space at an end matches none of _event_ts()'s shapes)
        stamp, recipients = f"trim({at[time_col]})", at["recipientaddress"]
        offset = _fixed_offset(src.tz)
        # str.split() at ';' / ',' then str.strip() of each part, without the empty ones (a short row, whose
        # missing fields are NULL, still gives a row: the bad one)
        split = (f"list_filter(list_transform(regexp_split_to_array(coalesce({recipients}, ''), '[;,]'), "
                 "lambda r: trim(r)), lambda r: r <> '')")
        select = f"""
            SELECT source_row, {', '.join(self.columns)},
                   NOT fields_ok OR event_ts IS NULL OR regexp_matches({recipients}, ?) AS _bad
            FROM (SELECT n + 1 AS source_row, {', '.join(values)}, nullif({stamp}, '') AS event_time,
                         {_event_ts(stamp, offset is not None)} AS event_ts,
                         unnest(CASE WHEN len({split}) = 0 THEN [NULL] ELSE {split} END) AS recipient, *
                  FROM {_bulk.numbered()})"""
        params = [_bulk.ODD_SPACE] + ([offset] * 2 if offset is not None else [])  # in textual order
        return _bulk.Bulk(reader=_bulk.csv_reader(len(header)), reader_params=[str(src.path), 1], select=select,
                          params=params, lines_read=lines - 1, verify=_bulk.rfc4180_verify(src.path))

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


# -- the bulk path ----------------------------------------------------------------------------------

# raw columns read as they are ('' gives NULL), by their normalised header name
_SOURCE = {"start_date": "startdate", "end_date": "enddate", "message_id": "messageid", "sender": "sender",
           "subject": "subject", "direction": "direction", "message_size": "messagesize",
           "attachments": "attachments", "event_target": "eventtarget"}
_ISO = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?"
_US = r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2} [AP]M"
_OFFSET = r"[+-]([01]\d|2[0-3]):?[0-5]\d"
# a zone suffix _split_zone() reads: ' UTC', 'GMT', ' GMT+01:00' (the offset captured)
_SUFFIX = r" ?(UTC|GMT)([+-]([01]\d|2[0-3]):[0-5]\d)?"
_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "GMT", "Etc/GMT"})


def _fixed_offset(tz) -> str | None:
    """'+hh:mm' of a --tz with one offset all year (a fixed offset or UTC), else None: a time without a
    zone is then only read by parse()."""
    if isinstance(tz, timezone):
        delta = tz.utcoffset(None)
    elif getattr(tz, "key", None) in _UTC_NAMES:
        delta = timedelta(0)
    else:
        return None
    minutes, rest = divmod(delta, timedelta(minutes=1))
    if rest or abs(minutes) >= 24 * 60:
        return None
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _as_iso(value: str) -> str:
    """SQL: an ISO or en-US naive time as 'YYYY-MM-DDTHH:MM:SS[.fff]' (NULL for an impossible en-US one)."""
    return (f"CASE WHEN strpos({value}, '/') > 0 "
            f"THEN strftime(try_strptime({value}, '%m/%d/%Y %I:%M:%S %p'), '%Y-%m-%dT%H:%M:%S') "
            f"ELSE regexp_replace({value}, '^(\\d{{4}}-\\d{{2}}-\\d{{2}}) ', '\\1T') END")


def _event_ts(stamp: str, fixed_tz: bool) -> str:
    """SQL: GmailElsCsv._when() of a trimmed time value, for the shapes read here: ISO 8601 with an
    offset; an ISO or en-US time with a UTC / GMT / GMT+hh:mm suffix; and, when `fixed_tz` (two
    params: the --tz offset), an ISO or en-US time without zone. NULL for any other value (parse()
    then decides)."""
    naive = f"({_ISO}|{_US})"
    zoned = _bulk.iso_utc(_as_iso(stamp), zoned=True)
    before_suffix = _as_iso(f"regexp_extract({stamp}, '^{naive}{_SUFFIX}$', 1)")
    suffix_offset = f"coalesce(nullif(regexp_extract({stamp}, '{_SUFFIX}$', 2), ''), 'Z')"
    suffixed = _bulk.iso_utc(f"{before_suffix} || {suffix_offset}", zoned=True)
    cases = [f"WHEN regexp_full_match({stamp}, '{_ISO}(Z|{_OFFSET})') THEN {zoned}",
             f"WHEN regexp_full_match({stamp}, '{naive}{_SUFFIX}') THEN {suffixed}"]
    if fixed_tz:
        cases.append(f"WHEN regexp_full_match({stamp}, '{naive}') THEN "
                     + _bulk.iso_utc(f"{_as_iso(stamp)} || ?", zoned=True))
    return f"CASE {' '.join(cases)} END"
