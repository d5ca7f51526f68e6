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
