"""Times as HCS reports them: RFC 3339 timestamps (Go's time.Time in the schema, up to 100 ns precision) and
durations in 100 ns units (``Uptime100ns``, ``*Runtime100ns``)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

_TIMESTAMP = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?([Zz]|[+-]\d\d:?\d\d)?$")


def parse_timestamp(value: Any) -> Optional[datetime]:
    """An aware datetime (UTC unless the text says otherwise) for an HCS timestamp; None when absent, malformed or
    the zero time (year 1 or 1601: "not set" in Go and in FILETIME)."""
    if not isinstance(value, str):
        return None
    match = _TIMESTAMP.match(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    if year <= 1601:
        return None
    fraction = (match.group(7) or "0")[:6].ljust(6, "0")
    zone = match.group(8)
    tz = timezone.utc
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        return datetime(year, month, day, hour, minute, second, int(fraction), tzinfo=tz)
    except ValueError:
        return None


def duration_100ns(value: Any) -> Optional[timedelta]:
    """A timedelta for a count of 100 ns units; None when absent or not a non-negative integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return timedelta(microseconds=value / 10)
