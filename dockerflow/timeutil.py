"""Time zones and Digdag's time formats."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

OFFSET_RE = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
DURATION_PART_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)", re.IGNORECASE)
DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: object, bare_seconds: bool = False) -> float:
    """`1d 2h 3m 4s`, `90s`, `500ms` (case-insensitive, spaces allowed) to seconds.

    Digdag requires a unit; `bare_seconds` also accepts a plain number of seconds."""
    text = str(value).strip()
    if bare_seconds and not isinstance(value, bool) and re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    compact = text.replace(" ", "")
    if not compact or DURATION_PART_RE.sub("", compact):
        raise ValueError(f"invalid duration {value!r}: use e.g. '30s', '5m', '1h 30m', '1d'")
    return sum(float(n) * DURATION_UNITS[u.lower()] for n, u in DURATION_PART_RE.findall(compact))


def parse_zone(name: str) -> tzinfo:
    """An IANA zone name ("Asia/Tokyo", "UTC") or a fixed offset ("+09:00")."""
    m = OFFSET_RE.match(name)
    if m:
        sign = 1 if m.group(1) == "+" else -1
        return timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3))))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: use an IANA name like 'Asia/Tokyo'"
                         " or an offset like '+09:00'") from None


def iso_offset(t: datetime) -> str:
    """`2016-01-02T03:04:05+00:00` (never Z)."""
    return t.strftime("%Y-%m-%dT%H:%M:%S") + tz_colon(t)


def tz_colon(t: datetime) -> str:
    off = t.strftime("%z") or "+0000"
    return off[:3] + ":" + off[3:5]


def tz_compact(t: datetime) -> str:
    return t.strftime("%z") or "+0000"


def parse_session_time(text: str, zone: tzinfo) -> datetime:
    """`YYYY-MM-DD[ HH:MM:SS]` in the workflow's zone, or a full ISO time with an offset."""
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=zone)
        except ValueError:
            pass
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"invalid session time {text!r}: use YYYY-MM-DD or"
                         " 'YYYY-MM-DD HH:MM:SS'") from None
    return t.astimezone(zone) if t.tzinfo else t.replace(tzinfo=zone)
