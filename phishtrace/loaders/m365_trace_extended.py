"""Exchange Online EAC historical-search downloads: Enhanced summary and Extended CSV (formats.md §3.1.4).

Header names are matched case-insensitively ('-' or ' ' read as '_'); the timestamp column may be
`origin_timestamp_utc` or `origin_timestamp` (Enhanced summary) and `date_time_utc` or `date_time`
(Extended), as the documented names and the names third-party parsers of real files read differ.

* Enhanced summary: one row per message; `recipient_status` holds `addr##Receive, Deliver` pairs
  joined by `;`. Each pair becomes one raw row (recipient_address, recipient_status = the event list).
* Extended: one row per event (the EXO message tracking log, on-prem layout with '_' names);
  a `;`-separated `recipient_address` becomes one raw row per recipient with its part of the
  parallel `recipient_status`.

Times: every value is read as UTC. The columns are named `..._utc`; the documented
`origin_timestamp` is "the configured UTC time zone" (§3.1.4). Values may be ISO 8601 (with or
without `Z`) or en-US `M/d/yyyy h:mm:ss AM`. The EAC can display other zones; a file exported in
another zone must be converted before loading (UNCERTAIN in §3.1.4; `--tz` is not applied, so one
ingest run can mix sources).

Encoding: UTF-16 LE with or without BOM, or UTF-8 (phishtrace.textio); a file mixing encodings
is refused. Event mapping: sql/10_staging/stg_m365_trace_extended_csv.sql (Extended rows are mapped
like the on-prem log in stg_exchange_msgtrk.sql; Enhanced summary by the last event of each recipient).

Bulk path (`bulk`): DuckDB reads a UTF-8 or UTF-16 LE report of either kind whose header is its first
line; UTF-16 BE files, and every file with a row parse() would reject, skip or read otherwise, go to parse().
"""

from __future__ import annotations

import csv
import io
from typing import Any

from phishtrace import textio
from phishtrace.errors import InputError
from phishtrace.loaders import _bulk
from phishtrace.loaders import _exchange_csv as xcsv
from phishtrace.registry import Loader, Parsed, Reject, SourceFile
from phishtrace.timeparse import UTC, TimeParseError, parse_any

SUMMARY_TIME = ("origin_timestamp_utc", "origin_timestamp")
EXTENDED_TIME = ("date_time_utc", "date_time")
TEXT_COLUMNS = (
    "sender_address", "recipient_address", "recipient_status", "message_subject", "total_bytes", "message_id",
    "network_message_id", "internal_message_id", "original_client_ip", "directionality", "connector_id",
    "delivery_priority", "client_ip", "client_hostname", "server_ip", "server_hostname", "source_context",
    "source", "event_id", "recipient_count", "related_recipient_address", "reference", "return_path",
    "message_info", "tenant_id", "original_server_ip", "custom_data",
)
EXPECTED = (
    "an EAC historical-search CSV header: Enhanced summary (origin_timestamp_utc, sender_address, "
    "recipient_status, ...) or Extended (date_time_utc, ..., event_id, ..., recipient_address, ...)"
)


def report_kind(keys: list[str]) -> str | None:
    have = set(keys)
    if have & set(EXTENDED_TIME) and {"event_id", "recipient_address"} <= have:
        return "extended"
    if have & set(SUMMARY_TIME) and {"recipient_status", "sender_address"} <= have:
        return "enhanced_summary"
    return None


def summary_pairs(value: str | None) -> list[tuple[str | None, str | None]]:
    """`a@x##Receive, Deliver;b@y##Receive, Fail` -> [(a@x, 'Receive, Deliver'), (b@y, 'Receive, Fail')]."""
    pairs = []
    for part in (value or "").split(";"):
        if not part.strip():
            continue
        addr, _, events = part.partition("##")
        pairs.append((addr.strip() or None, events.strip() or None))
    return pairs or [(None, None)]


class M365TraceExtendedCsv(Loader):
    name = "m365_trace_extended_csv"
    hop = "server"
    produces = "mail_events"
    recognised_by = (
        "EAC historical-search CSV (UTF-16 or UTF-8): Enhanced summary header with origin_timestamp[_utc] and "
        "recipient_status, or Extended header with date_time_utc, event_id and recipient_address"
    )
    columns = {"report": "VARCHAR", "time_text": "VARCHAR", "event_ts": "TIMESTAMPTZ"} | {
        c: "VARCHAR" for c in TEXT_COLUMNS
    }
    ts_column = "event_ts"

    def sniff(self, head: bytes, text: str) -> bool:
        fields = xcsv.first_record(xcsv.first_line(text))
        return report_kind([xcsv.header_key(f) for f in fields]) is not None

    def bulk(self, src: SourceFile, lines: int) -> _bulk.Bulk | None:
        """DuckDB reads a UTF-8 or UTF-16 LE report (either kind) whose header is its first line; a UTF-16
        BE file, a header parse() might read otherwise, and every row parse() would reject, skip or read otherwise (another
        field count, a record over several lines, a repeated header, a time that is not plain ISO 8601 or
        en-US, a blank line, a stray BOM, a recipient list the SQL split cannot pair the same way) send the
        file to parse()."""
        encoding = _bulk.csv_encoding(src.head)
        if encoding is None:
            return None
        header = _bulk_header(src)
        if header is None:
            return None
        keys, kind, time_col = header
        at = {k: i for i, k in enumerate(keys)}  # the last of a repeated name, as dict(zip()) keeps it
        raw, values, out = xcsv.split_row_columns({c: f"c{at[c]}" if c in at else None for c in TEXT_COLUMNS},
                                                  self.columns)
        split = (xcsv.split_recipients_sql(raw["recipient_address"], raw["recipient_status"]) if kind == "extended"
                 else _summary_split_select(raw["recipient_status"]))
        when = f"c{at[time_col]}"
        # (a repeated header, skipped by parse(), has a time value that is no timestamp: it is bad here)
        select = f"""
            SELECT source_row, {out},
                   NOT fields_ok OR NOT split_ok OR event_ts IS NULL OR starts_with(c0, chr(65279)) AS _bad
            FROM ({split},
                         n + 1 AS source_row, ? AS report, {when} AS time_text, {values},
                         {_bulk.any_utc(when)} AS event_ts
                  FROM {_bulk.numbered()})), unnest(pairs) AS t(pair)"""
        return _bulk.Bulk(reader=_bulk.csv_reader(len(keys), encoding), reader_params=[str(src.path), 1],
                          select=select, params=[_bulk.ODD_SPACE, kind],
                          lines_read=_bulk.physical_lines(src.path, encoding, lines) - 1,
                          verify=_bulk.rfc4180_verify(src.path, encoding))

    def parse(self, src: SourceFile) -> Parsed:
        text = xcsv.decoded_text(src.path, src.head)
        rows: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        keys: list[str] | None = None
        kind = time_col = None
        for line, fields in xcsv.records(src.path, text):
            if keys is None:
                keys = [xcsv.header_key(f) for f in fields]
                kind = report_kind(keys)
                if kind is None:
                    raise InputError(src.path, line, f"expected {EXPECTED}")
                time_col = next(c for c in (EXTENDED_TIME if kind == "extended" else SUMMARY_TIME) if c in keys)
                continue
            if xcsv.header_key(fields[0]) == keys[0] and [xcsv.header_key(f) for f in fields] == keys:
                continue  # header repeated by concatenated downloads
            if len(fields) != len(keys):
                raise InputError(
                    src.path, line,
                    f"row has {len(fields)} fields but the header has {len(keys)}: truncated line or broken quoting",
                )
            values = dict(zip(keys, fields))
            try:
                ts = parse_any(values[time_col], naive_tz=UTC)
                if ts is None:
                    raise TimeParseError("no timestamp")
            except TimeParseError as exc:
                rejects.append(Reject(line, f"{time_col}: {exc} (expected ISO 8601 or M/d/yyyy h:mm:ss AM, UTC)"))
                continue
            base = {c: (values.get(c) or None) for c in TEXT_COLUMNS}
            base.update(source_row=line, report=kind, time_text=values[time_col], event_ts=ts)
            if kind == "extended":
                pairs = xcsv.split_recipients(values.get("recipient_address"), values.get("recipient_status"))
            else:
                pairs = summary_pairs(values.get("recipient_status"))
            for recipient, status in pairs:
                rows.append(base | {"recipient_address": recipient, "recipient_status": status})
        if keys is None:
            raise InputError(src.path, 1, f"no header: expected {EXPECTED}")
        return Parsed(rows=rows, rejects=rejects)


def _bulk_header(src: SourceFile) -> tuple[list[str], str, str] | None:
    """(header keys, report kind, time column) when the file's first line is the whole header record, as
    parse() reads it; None when it is not (blank, cut off by the head, a quoted line break, a bare CR, a
    byte that is not UTF-8) or names no report: parse() then reads the file."""
    text = textio.head_text(src.head).lstrip("\ufeff")
    first, newline, _ = text.partition("\n")
    first = first.removesuffix("\r")
    if not newline or not first.strip() or "\r" in first or "\ufffd" in first:
        return None
    reader = csv.reader(io.StringIO(text, newline=""))  # as records() reads it: the record must end on line 1
    try:
        fields = next(reader)
    except csv.Error:
        return None
    if reader.line_num != 1:
        return None
    keys = [xcsv.header_key(f) for f in fields]
    kind = report_kind(keys)
    if kind is None:
        return None
    return keys, kind, next(c for c in (EXTENDED_TIME if kind == "extended" else SUMMARY_TIME) if c in keys)


def _summary_split_select(statuses: str) -> str:
    """summary_pairs() in SQL, in the shape of _exchange_csv.split_recipients_sql (one placeholder: the
    ODD_SPACE pattern): the list of (recipient, status) structs of one row, and `split_ok` false when
    the value holds white space other than the plain space (str.strip() would remove it, trim() not)."""
    parts = f"list_filter(string_split(coalesce({statuses}, ''), ';'), lambda x: trim(x) <> '')"
    # part.partition('##'): the address before the first '##', the events after it (none without one)
    pair = ("struct_pack(r := nullif(trim(CASE WHEN strpos(p, '##') > 0 THEN left(p, strpos(p, '##') - 1) "
            "ELSE p END), ''), "
            "s := CASE WHEN strpos(p, '##') > 0 THEN nullif(trim(substr(p, strpos(p, '##') + 2)), '') END)")
    return f"""
        SELECT *, CASE WHEN len(parts) = 0 THEN [struct_pack(r := NULL::VARCHAR, s := NULL::VARCHAR)]
                       ELSE list_transform(parts, lambda p: {pair}) END AS pairs,
               NOT regexp_matches(coalesce({statuses}, ''), ?) AS split_ok
        FROM (SELECT *, {parts} AS parts"""
