"""Time-zone data for the JavaScript `moment` (quickjs has no time-zone database).

A zone is handed to JavaScript as a table of UTC-offset changes computed from Python's
`zoneinfo`:  {"t": [t0, t1, ...], "o": [o0, o1, ...], "a": [a0, a1, ...]} where `t` are the
instants (Unix seconds) at which the offset or abbreviation changes, `o[0]`/`a[0]` hold before
`t[0]` and `o[i+1]`/`a[i+1]` from `t[i]` on.  Offsets are in seconds east of UTC.

The table covers 1900-2100 (sampled daily, each change located to the second); outside that
range the nearest known offset is used.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import datetime, timezone, tzinfo
from zoneinfo import ZoneInfo, available_timezones

_FIRST = int(datetime(1900, 1, 1, tzinfo=timezone.utc).timestamp())
_LAST = int(datetime(2100, 1, 1, tzinfo=timezone.utc).timestamp())
_DAY = 86400

_OFFSET_RE = re.compile(r"^(?:Z|[+-]\d\d(?::?\d\d)?)$")


def is_fixed_offset(name: str) -> bool:
    """True for "+09:00", "-0530", "+09", "Z": zones that JavaScript handles by itself."""
    return bool(_OFFSET_RE.match(name))


@functools.lru_cache(maxsize=None)
def _lower_names() -> dict[str, str]:
    return {n.lower(): n for n in available_timezones()}


@functools.lru_cache(maxsize=512)
def find_zone(name: str) -> ZoneInfo | None:
    """The IANA zone called `name` (case-insensitively, like moment-timezone), or None."""
    if not name or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (ValueError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        pass
    canonical = _lower_names().get(name.lower())
    return ZoneInfo(canonical) if canonical else None


def _state(zone: tzinfo, ts: int) -> tuple[int, str]:
    local = datetime.fromtimestamp(ts, zone)
    offset = local.utcoffset()
    return (int(offset.total_seconds()) if offset is not None else 0, local.tzname() or "")


def _first_change(zone: tzinfo, lo: int, hi: int, before: tuple[int, str]) -> int:
    """The first second in (lo, hi] whose state differs from `before` (the state at lo)."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _state(zone, mid) == before:
            lo = mid
        else:
            hi = mid
    return hi


@functools.lru_cache(maxsize=128)
def zone_json(name: str) -> str | None:
    """The JSON transition table of the IANA zone `name`, or None if there is no such zone."""
    zone = find_zone(name)
    if zone is None:
        return None
    state = _state(zone, _FIRST)
    times: list[int] = []
    offsets = [state[0]]
    abbrs = [state[1]]
    prev_ts = _FIRST
    for ts in range(_FIRST + _DAY, _LAST, _DAY):
        current = _state(zone, ts)
        while state != current:  # usually one change; loops if a day holds several
            prev_ts = _first_change(zone, prev_ts, ts, state)
            state = _state(zone, prev_ts)
            times.append(prev_ts)
            offsets.append(state[0])
            abbrs.append(state[1])
        prev_ts = ts
    return json.dumps({"t": times, "o": offsets, "a": abbrs}, separators=(",", ":"))
