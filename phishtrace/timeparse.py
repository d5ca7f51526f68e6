"""Timestamp parsing for the formats phishtrace reads; every result is an aware UTC datetime."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from phishtrace.errors import PhishtraceError

UTC = timezone.utc

_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*(Z|z|UTC|[+-]\d{2}(?::?\d{2})?)?$"
)
_US = re.compile(
    r"^(\d{1,2})/(\d{1,2})/(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?$"
)


class TimeParseError(ValueError):
    """A timestamp that does not follow the expected format."""


def zone(name: str | None):
    """A tzinfo for a zone name or fixed offset ('Europe/Paris', 'UTC', '+02:00'); None passes."""
    if name is None:
        return None
    text = name.strip()
    m = re.fullmatch(r"(?:UTC)?([+-])(\d{1,2}):?(\d{2})?", text)
    try:
        if m:
            sign = 1 if m.group(1) == "+" else -1
            return timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0)))
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # (a folder such as 'Europe' is an OSError)
        raise PhishtraceError(f"unknown time zone {name!r}: use an IANA name such as Europe/Paris, or an offset "
                              "such as +02:00 (at most 23:59)") from None


def _offset(text: str) -> timezone:
    if text in ("Z", "z", "UTC"):
        return UTC
    sign = 1 if text[0] == "+" else -1
    digits = text[1:].replace(":", "")
    hours = int(digits[:2])
    minutes = int(digits[2:4] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_iso(value: str, naive_tz=UTC) -> datetime:
    """ISO 8601 with 'Z', '+hh:mm', '+hhmm' or no zone (then `naive_tz`; None refuses).

    Fractions of any length are accepted (message trace writes 7 digits) and cut to microseconds.
    """
    text = value.strip()
    m = _ISO.match(text)
    if not m:
        raise TimeParseError(f"expected an ISO 8601 timestamp, got {value!r}")
    year, month, day, hour, minute = (int(m.group(i)) for i in range(1, 6))
    second = int(m.group(6) or 0)
    frac = m.group(7) or ""
    micro = int((frac + "000000")[:6]) if frac else 0
    tz = _offset(m.group(8)) if m.group(8) else naive_tz
    if tz is None:
        raise TimeParseError(f"timestamp {value!r} has no time zone and none was given (use --tz)")
    try:
        dt = datetime(year, month, day, hour, minute, second, micro)
    except ValueError as exc:
        raise TimeParseError(f"invalid timestamp {value!r}: {exc}") from None
    return dt.replace(tzinfo=tz).astimezone(UTC)


def parse_us(value: str, naive_tz=UTC) -> datetime:
    """en-US culture 'M/d/yyyy h:mm:ss tt' (PowerShell Export-Csv of a DateTime), in `naive_tz`."""
    m = _US.match(value.strip())
    if not m:
        raise TimeParseError(f"expected M/d/yyyy h:mm:ss AM/PM, got {value!r}")
    month, day, year, hour, minute = (int(m.group(i)) for i in range(1, 6))
    second = int(m.group(6) or 0)
    ampm = (m.group(7) or "").upper()
    if ampm:
        if not 1 <= hour <= 12:
            raise TimeParseError(f"invalid 12-hour time in {value!r}")
        hour = hour % 12 + (12 if ampm == "PM" else 0)
    try:
        dt = datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise TimeParseError(f"invalid timestamp {value!r}: {exc}") from None
    if naive_tz is None:
        raise TimeParseError(f"timestamp {value!r} has no time zone and none was given (use --tz)")
    return dt.replace(tzinfo=naive_tz).astimezone(UTC)


def parse_any(value: str | None, naive_tz=UTC) -> datetime | None:
    """ISO 8601 or en-US; empty or None gives None."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if "/" in text[:6]:
        return parse_us(text, naive_tz)
    return parse_iso(text, naive_tz)


def from_epoch(value, unit: str = "s") -> datetime:
    """Epoch seconds, milliseconds ('ms') or microseconds ('us') to UTC."""
    scale = {"s": 1, "ms": 1_000, "us": 1_000_000}[unit]
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise TimeParseError(f"expected an epoch {unit} number, got {value!r}") from None
    seconds, rest = divmod(number, scale)
    return datetime.fromtimestamp(seconds, tz=UTC) + timedelta(microseconds=rest * (1_000_000 // scale))
