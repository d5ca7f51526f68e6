"""Decoding of input files: BOMs, UTF-16 LE/BE with or without BOM, UTF-8, line numbering."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path

from phishtrace.errors import InputError

HEAD_BYTES = 64 * 1024


def detect_encoding(head: bytes) -> str:
    """Return the Python codec for bytes that start a text file.

    UTF-16 is recognised by its BOM or, without one, by zero bytes at odd (LE) or even (BE)
    offsets, which is how EAC historical-search downloads are often written.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    sample = head[:512]
    if len(sample) >= 4:
        odd_zeros = sum(1 for b in sample[1::2] if b == 0)
        even_zeros = sum(1 for b in sample[0::2] if b == 0)
        half = len(sample) // 2
        if odd_zeros > 0.4 * half and even_zeros < 0.05 * half:
            return "utf-16-le"
        if even_zeros > 0.4 * half and odd_zeros < 0.05 * half:
            return "utf-16-be"
    return "utf-8"


def head_text(head: bytes) -> str:
    """Best-effort text of a file's first bytes, for sniffing (never raises)."""
    enc = detect_encoding(head)
    if enc.startswith("utf-16") and len(head) % 2:
        head = head[:-1]
    return head.decode(enc, errors="replace")


def looks_binary(head: bytes) -> bool:
    """True when the bytes are not text in any encoding phishtrace reads."""
    if not head:
        return False
    enc = detect_encoding(head)
    if enc.startswith("utf-16"):
        return False
    sample = head[:4096]
    if b"\x00" in sample:
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is fine
        if exc.start < len(sample) - 4:
            return True
    control = sum(1 for b in sample if b < 9 or 13 < b < 32)
    return control > 0.05 * len(sample)


def read_text(path: str | Path) -> str:
    """Whole file as text, newlines kept; a decoding error names file and line."""
    data = Path(path).read_bytes()
    enc = detect_encoding(data[:HEAD_BYTES])
    try:
        text = data.decode(enc)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(path, line, f"not valid {enc.replace('-sig', '')} text ({exc.reason})") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def numbered_lines(path: str | Path, chunk_bytes: int = 1 << 20) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its end) for every line of a text file, as
    `read_text(path).splitlines()` gives them, decoded a chunk at a time (memory stays bounded by the
    longest line, not the file); a decoding error names file and line as read_text() does."""
    path = Path(path)
    with path.open("rb") as fh:
        decoder = codecs.getincrementaldecoder(detect_encoding(fh.read(HEAD_BYTES)))()
        fh.seek(0)
        pending, n, chunk, start = "", 0, fh.read(chunk_bytes), True
        while chunk:
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError:
                read_text(path)  # raises the error with its line
                raise
            if start and text:
                text, start = (text[1:] if text.startswith("\ufeff") else text), False
            lines = (pending + text).splitlines(keepends=True)
            # the last piece may continue in the next chunk (a line, or the '\n' after a '\r')
            unfinished = lines and (lines[-1].endswith("\r") or lines[-1].splitlines()[0] == lines[-1])
            pending = lines.pop() if unfinished else ""
            for line in lines:
                n += 1
                yield n, line[:-2] if line.endswith("\r\n") else line[:-1]
            chunk = fh.read(chunk_bytes)
        try:
            tail = pending + decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            read_text(path)
            raise
    for line in tail.splitlines():
        n += 1
        yield n, line
