"""Exchange Server (on-premises) message tracking logs, MSGTRK*.LOG (formats.md §3.4).

Layout: the W3C header (`#Software`, `#Version`, `#Log-type`, `#Date`, `#Fields:`) names the
fields, and rows are parsed by that list, not by position. The three generations seen in real
files have 26 (2007/2010), 27 (2013: + network-message-id) and 30 fields (2016/2019: +
transport-traffic-type, log-id, schema-version). A `#Fields:` line anywhere in the file sets the
layout for the rows after it (concatenated logs). Rows before any header (header-less files, like
Elastic's test log) need the layout from the loader option `fields` (`ingest --fields 26|27|30`
or a comma-separated field list); without it the file is refused. A row whose field count differs
from its layout is refused with its line.

Time: `date-time` is UTC (`...Z`); a value without a zone is read as UTC because the log is
always written in UTC (§3.4). UTF-8 with or without BOM, CRLF or LF.

Rows with a `;`-separated `recipient-address` become one raw row per recipient, each with its
own part of the parallel `recipient-status` list (see _exchange_csv.split_recipients). Event
mapping is done in sql/10_staging/stg_exchange_msgtrk.sql.
"""

from __future__ import annotations

import re
from typing import Any

from phishtrace import textio
from phishtrace.errors import InputError
from phishtrace.loaders import _bulk
from phishtrace.loaders import _exchange_csv as xcsv
from phishtrace.registry import Loader, Parsed, Reject, SourceFile
from phishtrace.timeparse import UTC, TimeParseError, parse_iso

FIELDS_26 = (
    "date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,"
    "event-id,internal-message-id,message-id,recipient-address,recipient-status,total-bytes,recipient-count,"
    "related-recipient-address,reference,message-subject,sender-address,return-path,message-info,"
    "directionality,tenant-id,original-client-ip,original-server-ip,custom-data"
).split(",")
FIELDS_27 = FIELDS_26[:11] + ["network-message-id"] + FIELDS_26[11:]
FIELDS_30 = FIELDS_27 + ["transport-traffic-type", "log-id", "schema-version"]
LAYOUTS = {"26": FIELDS_26, "27": FIELDS_27, "30": FIELDS_30}
REQUIRED = ("date-time", "event-id")

EVENT_IDS = frozenset(
    "AGENTINFO BADMAIL CLIENTSUBMISSION DEFER DELIVER DELIVERFAIL DROP DSN DUPLICATEDELIVER DUPLICATEEXPAND "
    "DUPLICATEREDIRECT EXPAND FAIL HADISCARD HARECEIVE HAREDIRECT HAREDIRECTFAIL INITMESSAGECREATED LOAD "
    "MODERATIONEXPIRE MODERATORAPPROVE MODERATORREJECT MODERATORSALLNDR NOTIFYMAPI NOTIFYSHADOW POISONMESSAGE "
    "PROCESS PROCESSMEETINGMESSAGE RECEIVE REDIRECT RESOLVE RESUBMIT RESUBMITDEFER RESUBMITFAIL SEND SENDEXTERNAL "
    "SUBMIT SUBMITDEFER SUBMITFAIL SUPPRESSED THROTTLE TRANSFER".split()
)
SOURCES = frozenset(
    "ADMIN AGENT APPROVAL BOOTLOADER DNS DSN GATEWAY MAILBOXRULE MEETINGMESSAGEPROCESSOR ORAR PICKUP "
    "POISONMESSAGE PUBLICFOLDER QUEUE REDUNDANCY ROUTING SAFETYNET SMTP STOREDRIVER".split()
)
_ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$")


def column(field: str) -> str:
    return field.replace("-", "_")


def layout_from_option(src: SourceFile) -> list[str] | None:
    """The `fields` loader option as a field list (None when not given)."""
    value = src.options.get("fields")
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    if text in LAYOUTS:
        return LAYOUTS[text]
    names = [n.strip().lower().replace("_", "-") for n in text.split(",")]
    unknown = [n for n in names if n not in FIELDS_30]
    if unknown or any(r not in names for r in REQUIRED):
        raise InputError(
            src.path, None,
            f"--fields {text!r}: expected 26, 27, 30 or a comma-separated list of MSGTRK field names "
            f"including {', '.join(REQUIRED)}" + (f" (unknown: {', '.join(unknown)})" if unknown else ""),
        )
    return names


def header_fields(src: SourceFile, line: int, first: str, rest: list[str]) -> list[str]:
    names = [first.split(":", 1)[1], *rest]
    fields = [n.strip().lower() for n in names]
    missing = [r for r in REQUIRED if r not in fields]
    if missing:
        raise InputError(
            src.path, line,
            f"#Fields: header lacks {', '.join(missing)}: expected a message tracking log header "
            "(date-time,client-ip,...,event-id,...)",
        )
    return fields


class ExchangeMsgtrk(Loader):
    name = "exchange_msgtrk"
    hop = "server"
    produces = "mail_events"
    recognised_by = (
        "Exchange Server message tracking log: '#Log-type: Message Tracking Log' / '#Fields: date-time,...,event-id' "
        "header, or header-less rows of 26/27/30 fields with an Exchange event-id (then give --fields)"
    )
    columns = {column(f): "VARCHAR" for f in FIELDS_30} | {"event_ts": "TIMESTAMPTZ", "fields_layout": "VARCHAR"}
    ts_column = "event_ts"

    def sniff(self, head: bytes, text: str) -> bool:
        body = text.lstrip("\ufeff")
        if body.startswith("#"):
            if re.search(r"^#Log-type:\s*Message Tracking Log\s*$", body, re.M | re.I):
                return True
            m = re.search(r"^#Fields:\s*(.*)$", body, re.M)
            return bool(m) and {"date-time", "event-id", "message-id", "recipient-address"} <= {
                f.strip().lower() for f in m.group(1).split(",")
            }
        fields = xcsv.first_record(xcsv.first_line(body))
        return (
            len(fields) in (26, 27, 30)
            and bool(_ISO_Z.match(fields[0]))
            and fields[8].upper() in EVENT_IDS
            and (fields[7] == "" or fields[7].upper() in SOURCES)
        )

    def bulk(self, src: SourceFile, lines: int) -> _bulk.Bulk | None:
        return bulk_plan(self, src, lines)

    def parse(self, src: SourceFile) -> Parsed:
        text = xcsv.decoded_text(src.path, src.head)
        layout = layout_from_option(src)
        layout_name = next((k for k, v in LAYOUTS.items() if v == layout), "custom") if layout else None
        rows: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        for line, fields in xcsv.records(src.path, text):
            if fields[0].startswith("#"):
                if fields[0].lower().startswith("#fields:"):
                    layout = header_fields(src, line, fields[0], fields[1:])
                    layout_name = next((k for k, v in LAYOUTS.items() if v == layout), str(len(layout)))
                continue
            if layout is None:
                raise InputError(
                    src.path, line,
                    "message tracking rows without a '#Fields:' header: name the layout with --fields "
                    "(26 for Exchange 2007/2010, 27 for 2013, 30 for 2016/2019, or a comma-separated field list)",
                )
            if len(fields) != len(layout):
                raise InputError(
                    src.path, line,
                    f"row has {len(fields)} fields but the layout has {len(layout)} "
                    f"({'#Fields: header' if layout_name not in LAYOUTS else layout_name + '-field layout'}): "
                    "truncated line, or a log of another Exchange generation",
                )
            values = dict(zip(layout, fields))
            try:
                ts = parse_iso(values["date-time"], naive_tz=UTC)
            except TimeParseError as exc:
                rejects.append(Reject(line, f"date-time: {exc} (expected e.g. 2024-01-25T15:16:09.949Z)"))
                continue
            base = {column(f): (values.get(f) or None) for f in FIELDS_30}
            base.update(source_row=line, event_ts=ts, fields_layout=layout_name)
            for recipient, status in xcsv.split_recipients(values.get("recipient-address"),
                                                           values.get("recipient-status")):
                rows.append(base | {"recipient_address": recipient, "recipient_status": status})
        return Parsed(rows=rows, rejects=rejects)


def _layout_name(layout: list[str], default: str) -> str:
    return next((k for k, v in LAYOUTS.items() if v == layout), default)


def _header_block(src: SourceFile) -> tuple[int, list[str] | None, str | None] | None:
    """(header lines at the top of the file, layout, layout name) for the bulk path; None when the head
    does not show where the rows start or the layout is not plain (parse() then reads the file)."""
    text = textio.head_text(src.head).lstrip("\ufeff")
    lines = text.split("\n")[:-1]  # the last piece may be cut off by the head
    count, layout, name = 0, None, None
    for line in lines:
        if not line.startswith("#"):
            break
        if '"' in line:
            return None
        count += 1
        if line.lower().startswith("#fields:"):
            fields = xcsv.first_record(line.rstrip("\r"))
            layout = [n.strip().lower() for n in [fields[0].split(":", 1)[1], *fields[1:]]]
            name = _layout_name(layout, str(len(layout)))
    if count == len(lines):
        return None
    if count == 0:
        try:
            layout = layout_from_option(src)
        except InputError:
            return None
        name = _layout_name(layout, "custom") if layout else None
    if layout is None or any(r not in layout for r in REQUIRED):
        return None
    return count, layout, name


def bulk_plan(loader: Loader, src: SourceFile, lines: int) -> _bulk.Bulk | None:
    """ExchangeMsgtrk.bulk: DuckDB reads a UTF-8 log whose header lines all come first (or a header-less log with
    --fields); a '#' line further down, a row of another field count, a time parse() reads otherwise
    and every other unusual row send the file to parse()."""
    if not _bulk.is_utf8(src.head):
        return None
    block = _header_block(src)
    if block is None:
        return None
    skip, layout, name = block
    at = {f: i for i, f in enumerate(layout)}  # the last of a repeated name, as dict(zip()) keeps it
    raw, values, out = xcsv.split_row_columns(
        {column(f): f"c{at[f]}" if f in at else None for f in FIELDS_30}, loader.columns)
    select = f"""
        SELECT source_row, {out},
               NOT fields_ok OR NOT split_ok OR event_ts IS NULL OR starts_with(c0, '#') OR starts_with(c0, chr(65279)) AS _bad
        FROM ({xcsv.split_recipients_sql(raw['recipient_address'], raw['recipient_status'])},
                     ? + n AS source_row, {values}, ? AS fields_layout, {_bulk.iso_utc(f"c{at['date-time']}")} AS event_ts
              FROM {_bulk.numbered()})), unnest(pairs) AS t(pair)"""
    return _bulk.Bulk(reader=_bulk.csv_reader(len(layout)), reader_params=[str(src.path), skip], select=select,
                      params=[_bulk.ODD_SPACE, skip, name], lines_read=lines - skip,
                      verify=_bulk.rfc4180_verify(src.path))
