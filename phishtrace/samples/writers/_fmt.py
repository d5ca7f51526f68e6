"""Timestamp renderings used by the writers (all inputs are aware UTC datetimes)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

UTC = timezone.utc
# offsets the campaign export renders its rows in (at least three different ones)
EXPORT_OFFSETS = (UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5)))
PACIFIC = timezone(timedelta(hours=-7))  # Proofpoint on Demand agents log in -07:00 (formats.md §2.1.1)


def iso(dt: datetime | None, tz=UTC) -> str:
    """'2025-06-02T10:00:05+02:00', or '...Z' in UTC; empty for None."""
    if dt is None:
        return ""
    text = dt.astimezone(tz).isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def iso7(dt: datetime, z: bool = True, extra_digit: int = 0) -> str:
    """.NET round-trip style with 7 fractional digits: '2022-09-05T18:10:13.4907658Z'."""
    d = dt.astimezone(UTC)
    return f"{d:%Y-%m-%dT%H:%M:%S}.{d.microsecond:06d}{extra_digit % 10}" + ("Z" if z else "")


def pod_ts(dt: datetime) -> str:
    """PoD `ts`: microseconds and an offset without a colon ('-0700')."""
    text = dt.astimezone(PACIFIC).isoformat(timespec="microseconds")
    return text[:-3] + text[-2:]


def pod_data_ts(dt: datetime) -> str:
    """Timestamp inside a PoD maillog `data` line: offset with a colon ('-07:00')."""
    return dt.astimezone(PACIFIC).isoformat(timespec="microseconds")


def en_us(dt: datetime) -> str:
    """PowerShell en-US culture DateTime: 'M/d/yyyy h:mm:ss AM' (UTC)."""
    d = dt.astimezone(UTC)
    hour = d.hour % 12 or 12
    return f"{d.month}/{d.day}/{d.year} {hour}:{d.minute:02d}:{d.second:02d} {'AM' if d.hour < 12 else 'PM'}"


def rint(rng, lo: int, hi: int) -> int:
    """Random.randint (both ends included), cheaper in hot loops."""
    return lo + int(rng.random() * (hi - lo + 1))


def floor_second(dt: datetime) -> datetime:
    return dt.replace(microsecond=0)
