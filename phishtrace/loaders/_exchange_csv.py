"""CSV helpers shared by the Exchange / Exchange Online loaders (MSGTRK, EAC historical search,
message trace detail): decoding checks, records with their line numbers, recipient splitting."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

from phishtrace import textio
from phishtrace.errors import InputError

# a `;`-list entry that starts a new recipient status (SMTP reply or To/Cc/Bcc)
_STATUS_START = re.compile(r";\s*(?=(?:[245]\d\d\b|To\b|Cc\b|Bcc\b))", re.IGNORECASE)


def decoded_text(path: Path, head: bytes) -> str:
    """The whole file as text; a file that mixes UTF-8 and UTF-16 raises InputError naming the line.

    textio decodes by the encoding of the file's start. A UTF-16 part inside a UTF-8 file shows up
    as NUL characters; a UTF-8 part inside a UTF-16 file as a line without a single ASCII character
    (every CSV line holds ASCII separators).
    """
    encoding = textio.detect_encoding(head)
    utf16 = encoding.startswith("utf-16")
    if utf16:
        # a lenient decode first, so a UTF-8 part (even of odd length) is found by its line
        data = Path(path).read_bytes()
        _check_one_encoding(path, (data + b"\x00" * (len(data) % 2)).decode(encoding, errors="replace"), utf16)
    text = textio.read_text(path)
    if not utf16:
        _check_one_encoding(path, text, utf16)
    return text


def _check_one_encoding(path: Path, text: str, utf16: bool) -> None:
    for number, line in enumerate(io.StringIO(text, newline=""), start=1):
        body = line.rstrip("\r\n").lstrip("\ufeff")
        no_ascii = bool(body.strip()) and not any(c < "\x80" for c in body)
        if "\x00" in body or (utf16 and ("\ufffd" in body or no_ascii)):
            enc = "UTF-16" if utf16 else "UTF-8"
            raise InputError(
                path, number,
                f"mixed text encodings: the file starts as {enc} but this line is not; "
                "save or download the whole file again in one encoding",
            )


def records(path: Path, text: str, delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, fields) for every CSV record; blank lines are skipped.

    Quoted fields may span lines (RFC 4180); a stray BOM at the start of a line is dropped.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    last = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError(path, last + 1, f"unreadable CSV record ({exc}): expected {delimiter!r}-separated fields") from None
        start, last = last + 1, reader.line_num
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        if fields[0].startswith("\ufeff"):
            fields[0] = fields[0][1:]
        yield start, fields


def header_key(name: str) -> str:
    """Header name compared case-insensitively, with '-' or ' ' read as '_'."""
    return re.sub(r"[\s\-]+", "_", name.strip().strip('"').lstrip("\ufeff").strip()).lower()


def split_recipients(addresses: str | None, statuses: str | None) -> list[tuple[str | None, str | None]]:
    """Pair a `;`-separated recipient list with its parallel `;`-separated status list.

    A status can itself contain `;` (`550 5.1.1 RESOLVER.ADR.RecipNotFound; not found`), so the
    list is first split at every `;`, then only where a new SMTP reply or To/Cc/Bcc starts; when
    neither split gives one status per recipient, every recipient keeps the whole status text.
    """
    addrs = [a.strip() for a in (addresses or "").split(";") if a.strip()]
    status = (statuses or "").strip() or None
    if not addrs:
        return [(None, status)]
    if len(addrs) == 1 or status is None:
        return [(a, status) for a in addrs]
    for parts in (status.split(";"), _STATUS_START.split(status)):
        if len(parts) == len(addrs):
            return [(a, p.strip() or None) for a, p in zip(addrs, parts)]
    return [(a, status) for a in addrs]


def split_row_columns(sources: dict[str, str | None], columns) -> tuple[dict[str, str], str, str]:
    """For a bulk query whose rows are split per recipient (split_recipients_sql): `sources` maps each
    raw text column to its csv_reader column (None: not in the file). Returns the column expressions
    ('' gives NULL), the select list of the columns other than recipient_address / recipient_status,
    and the output list of `columns` with those two taken from the split's `pair`."""
    raw = {col: f"nullif({c}, '')" if c else "CAST(NULL AS VARCHAR)" for col, c in sources.items()}
    pair = {"recipient_address": "pair.r", "recipient_status": "pair.s"}
    values = ", ".join(f"{v} AS {c}" for c, v in raw.items() if c not in pair)
    out = ", ".join(f"{pair[c]} AS {c}" if c in pair else c for c in columns)
    return raw, values, out


def split_recipients_sql(addresses: str, statuses: str) -> str:
    """split_recipients() in SQL, for a bulk query: the head of a SELECT (to be continued with the
    columns of its inner FROM) adding `pairs`, the list of (recipient r, status s) structs of one row,
    and `split_ok`, false where the SQL cannot give split_recipients()'s answer (white space other than
    the plain space, or a status split at SMTP replies that is not plain ASCII). One placeholder: the
    _bulk.ODD_SPACE pattern."""
    addrs = f"list_filter(list_transform(string_split(coalesce({addresses}, ''), ';'), lambda x: trim(x)), lambda x: x <> '')"
    status = f"nullif(trim(coalesce({statuses}, '')), '')"
    # _STATUS_START: a ';' (and white space) before an SMTP reply or To/Cc/Bcc starts a new status
    by_reply = (f"string_split(regexp_replace({status}, ';[ \\t\\n\\r\\f]*([245][0-9][0-9]\\b|To\\b|Cc\\b|Bcc\\b)', "
                f"chr(1) || '\\1', 'gi'), chr(1))")
    return f"""
        SELECT *, CASE
               WHEN len(addrs) = 0 THEN [struct_pack(r := NULL::VARCHAR, s := status)]
               WHEN len(addrs) = 1 OR status IS NULL THEN list_transform(addrs, lambda a: struct_pack(r := a, s := status))
               WHEN len(by_semicolon) = len(addrs)
                    THEN list_transform(list_zip(addrs, by_semicolon), lambda p: struct_pack(r := p[1], s := nullif(trim(p[2]), '')))
               WHEN len(by_reply) = len(addrs)
                    THEN list_transform(list_zip(addrs, by_reply), lambda p: struct_pack(r := p[1], s := nullif(trim(p[2]), '')))
               ELSE list_transform(addrs, lambda a: struct_pack(r := a, s := status)) END AS pairs,
               NOT regexp_matches(concat({addresses}, {statuses}), ?)
               AND (len(addrs) < 2 OR status IS NULL OR len(by_semicolon) = len(addrs)
                    OR NOT regexp_matches(status, '[^\\x02-\\x7e]')) AS split_ok
        FROM (SELECT *, {addrs} AS addrs, {status} AS status, string_split({status}, ';') AS by_semicolon,
                     {by_reply} AS by_reply"""


def first_line(text: str) -> str:
    """The first non-blank line of a sniffed head, without BOM."""
    for line in text.lstrip("\ufeff").splitlines():
        if line.strip():
            return line.strip()
    return ""


def first_record(line: str, delimiter: str = ",") -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter))
    except (csv.Error, StopIteration):
        return []


def delimiter_of(header_line: str) -> str:
    """',' unless ';' or a tab splits the header line into more fields (Export-Csv -UseCulture)."""
    return max((",", ";", "\t"), key=lambda d: len(first_record(header_line, d)))
