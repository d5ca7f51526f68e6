"""Small helpers shared by the mail-filter log loaders (Mimecast, Cisco ESA)."""

from __future__ import annotations

import html
import re
from urllib.parse import unquote

# GoPhish puts the per-recipient token in every link as the `rid` query parameter (formats.md §1.1.4)
_RID = re.compile(r"(?:^|[?&;#/])rid=([A-Za-z0-9_-]+)")
# an SMTP reply code or an enhanced status code at the start of a text ("550 ...", "5.1.1 ...", "#5.1.8")
_LEADING_CODE = re.compile(r"^\s*#?([245]\d\d|[245]\.\d{1,3}\.\d{1,3})(?![\d.])")
# an enhanced status code anywhere, delimited (e.g. "... error 5.4.1 Recipient address rejected")
_ENHANCED = re.compile(r"(?:^|[\s(\['\"#])([245]\.\d{1,3}\.\d{1,3})(?=[\s)\]'\",;:]|$)")


def rid_tokens(url: str | None) -> list[str]:
    """Every GoPhish rid in a URL, also when the URL is HTML-escaped or URL-encoded (up to 3 times)."""
    if not url:
        return []
    found: set[str] = set()
    text = url
    for _ in range(4):
        text = html.unescape(text)
        found.update(_RID.findall(text))
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    return sorted(found)


def rid_token(url: str | None) -> str | None:
    """The single rid in a URL, or None when there is none or several different ones."""
    found = rid_tokens(url)
    return found[0] if len(found) == 1 else None


def reply_code(*texts: str | None) -> str | None:
    """The first SMTP reply code ('550') or enhanced status code ('5.4.1') found in the texts: a code
    leading a text wins, then a delimited enhanced code anywhere in it. None when there is none."""
    for text in texts:
        if text:
            m = _LEADING_CODE.match(str(text))
            if m:
                return m.group(1)
    for text in texts:
        if text:
            m = _ENHANCED.search(str(text))
            if m:
                return m.group(1)
    return None
