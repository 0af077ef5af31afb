"""`schedule:` parsing and session-time arithmetic (croniter does the cron part).

Session-time arithmetic for a scheduler (pure functions: no I/O, no clock reading)
---------------------------------------------------------------------------------
A schedule yields *session times* (aligned in the workflow's zone) and, for each, a
*run time* = session time + `delay` seconds of elapsed time (hourly>/daily>/weekly>/
monthly> carry their `at` value as the delay, so `daily>: 10:00:00` on a 23-hour day
runs at 11:00 local, as in Digdag). `ScheduleTime` pairs the two.

`start`/`end` (`YYYY-MM-DD`, in the workflow's zone) bound the *session* times: a session
is in range when start 00:00 <= session < 00:00 of the day after `end` (`end` is
inclusive). After the range the schedule is finished: `ScheduleTime(FAR_FUTURE in the
workflow's zone, FAR_FUTURE)`, the same instant for both, no delay added (Digdag's
`ScheduleTime.of(END, END)`); `ScheduleTime.finished` tells it.

Daylight-saving time (cron-based kinds; `seconds_interval>` counts epoch seconds and has
no DST). The rules follow Vixie cron's: an expression whose hour field is `*`
(`hourly>`, `minutes_interval>`, `cron>: '*/10 * * * *'`...) is "frequent", any other
(`daily>`, `weekly>`, `monthly>`, `cron>: '30 2 * * *'`, `'0 */2 * * *'`...) is "fixed".

- Frequent: a session at every real instant whose local wall clock matches. Wall times in
  the spring-forward gap do not exist, so they have no session (01:00 PST -> 03:00 PDT is
  one real hour: nothing is skipped); in the fall-back repeated hour both passes match, so
  an hourly schedule has 25 sessions that day (01:00-07:00 and 01:00-08:00), one per real
  hour, told apart by their offset.
- Fixed: a wall time in the repeated hour is used once, at its first pass (the earlier
  instant, daylight time), so `cron>: '30 1 * * *'` runs once on the fall-back day (plain
  croniter would run it twice). A wall time inside the spring-forward gap is moved to the
  first instant after the gap: `cron>: '30 2 * * *'` in America/Los_Angeles on
  2024-03-10 has its session at 03:00-07:00 (what croniter and Vixie cron do); several
  gap times, or a gap time and a real 03:00 match, make a single session there.
- `daily>` keeps 00:00 local, so its sessions are 23 h or 25 h apart across a change.

Session times are strictly increasing in UTC along `next_schedule`, and every function
accepts aware datetimes in any zone (naive ones are refused with ValueError).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any, Callable

from croniter import CroniterBadDateError, croniter

from dockerflow.errors import DigError
from dockerflow.graph.spec import Schedule
from dockerflow.timeutil import parse_duration

KINDS = ("hourly", "daily", "weekly", "monthly", "minutes_interval", "cron", "seconds_interval")
OPTIONS = ("start", "end", "skip_on_overtime", "skip_delayed_by", "delay", "at")
WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
def _hms(text: str, parts: int, what: str, fail: Callable[[str], DigError]) -> int:
    fields = str(text).strip().split(":")
    fmt = "hh:mm:ss" if parts == 3 else "mm:ss"
    if len(fields) != parts or not all(f.isdigit() for f in fields):
        raise fail(f"{what} scheduler requires {fmt} format, got {text!r}")
    secs = 0
    for f in fields:
        secs = secs * 60 + int(f)
    return secs


def parse_schedule(config: Mapping[str, Any], fail: Callable[[str], DigError]) -> Schedule:
    kinds = [k for k in config if k.endswith(">")]
    if len(kinds) != 1:
        raise fail("schedule needs exactly one of " + ", ".join(k + ">" for k in KINDS))
    kind = kinds[0][:-1]
    if kind not in KINDS:
        raise fail(f"Unknown scheduler type: {kind}")
    for key in config:
        if key != kinds[0] and key not in OPTIONS:
            from dockerflow.dig.compile import did_you_mean
            raise fail(f"Parameter '{key}' is not used at schedule.{did_you_mean(key, OPTIONS)}")
    value = config.get("at", config[kinds[0]])
    value = "" if value is None else str(value).strip()
    delay = 0
    if kind == "hourly":
        delay = _hms(value, 2, "hourly>", fail)
    elif kind == "daily":
        delay = _hms(value, 3, "daily>", fail)
    elif kind in ("weekly", "monthly"):
        day, _, hms = value.partition(",")
        delay = _hms(hms, 3, f"{kind}>", fail)
        if kind == "weekly" and day.strip().lower()[:3] not in WEEKDAYS and not day.strip().isdigit():
            raise fail(f"weekly> needs a weekday like 'Sun,09:00:00', got {value!r}")
        if kind == "monthly" and not (day.strip().isdigit() and 1 <= int(day) <= 31):
            raise fail(f"monthly> needs a day of month like '1,09:00:00', got {value!r}")
    elif kind in ("minutes_interval", "seconds_interval"):
        if not value.isdigit() or int(value) < 1:
            raise fail(f"{kind}> needs a positive whole number, got {value!r}")
    elif kind == "cron" and not croniter.is_valid(value):
        raise fail(f"cron> expression {value!r} is not a valid 5-field cron expression")
    if "delay" in config:
        delay = int(config["delay"])
    skip_delayed = None
    if "skip_delayed_by" in config:
        try:
            skip_delayed = parse_duration(config["skip_delayed_by"])
        except ValueError as e:
            raise fail(f"skip_delayed_by: {e}") from None
    return Schedule(kind=kind, value=value, delay=delay,
                    start=_opt_str(config.get("start")), end=_opt_str(config.get("end")),
                    skip_on_overtime=config.get("skip_on_overtime") is True,
                    skip_delayed_by=skip_delayed)


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(v)


def _cron_expr(s: Schedule) -> str | None:
    if s.kind == "hourly":
        return "0 * * * *"
    if s.kind == "daily":
        return "0 0 * * *"
    if s.kind == "weekly":
        day = s.value.partition(",")[0].strip().lower()
        dow = int(day) % 7 if day.isdigit() else WEEKDAYS.index(day[:3])
        return f"0 0 * * {dow}"
    if s.kind == "monthly":
        return f"0 0 {int(s.value.partition(',')[0])} * *"
    if s.kind == "minutes_interval":
        return f"*/{int(s.value)} * * * *"
    if s.kind == "cron":
        return s.value
    return None


def previous_slot(s: Schedule, t: datetime, inclusive: bool = False) -> datetime:
    """The newest session time before `t` (or at `t` when inclusive)."""
    if s.kind == "seconds_interval":
        step = int(s.value)
        ts = t.timestamp()
        base = (ts // step) * step
        if base == ts and not inclusive:
            base -= step
        return datetime.fromtimestamp(base, t.tzinfo)
    it = croniter(_cron_expr(s), t + timedelta(seconds=1) if inclusive else t)
    return it.get_prev(datetime)


def next_slot(s: Schedule, t: datetime) -> datetime:
    """The first session time strictly after `t`."""
    if s.kind == "seconds_interval":
        step = int(s.value)
        return datetime.fromtimestamp((t.timestamp() // step + 1) * step, t.tzinfo)
    return croniter(_cron_expr(s), t).get_next(datetime)


# --- session times for a scheduler --------------------------------------------------------

UTC = timezone.utc
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)  # "no more sessions" (Digdag's SCHEDULE_END)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TICK = timedelta(microseconds=1)
_PROBE = timedelta(hours=6)
_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
# naive local times beyond this are "no more sessions" (croniter overflows at year 9999)
_NAIVE_LIMIT = datetime(9999, 1, 3)


@dataclass(frozen=True, slots=True)
class ScheduleTime:
    """A session time (aware, in the workflow's zone) and when it should start (aware, UTC).

    A finished schedule (after `end`) is `ScheduleTime(FAR_FUTURE in the zone, FAR_FUTURE)`."""

    session_time: datetime
    run_time: datetime

    @property
    def finished(self) -> bool:
        return self.session_time >= FAR_FUTURE


def _utc(t: datetime, what: str = "time") -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime, got naive {t!r}")
    return t.astimezone(UTC)


def _offset_change(zone: tzinfo, lo: datetime, hi: datetime, off: timedelta | None) -> datetime | None:
    """The first instant in (lo, hi] whose UTC offset is not `off`, or None.

    Probes every 6 hours and bisects to the microsecond (offset changes are months apart)."""
    if isinstance(zone, timezone):  # a fixed offset
        return None
    t = lo
    while t < hi:
        probe = min(t + _PROBE, hi)
        if probe.astimezone(zone).utcoffset() != off:
            while probe - t > _TICK:
                mid = t + (probe - t) // 2
                if mid.astimezone(zone).utcoffset() != off:
                    probe = mid
                else:
                    t = mid
            return probe
        t = probe
    return None


@lru_cache(maxsize=256)
def _template(expr: str) -> croniter:
    """A parsed expression (parsing dominates croniter's cost); used through copies only."""
    return croniter(expr, datetime(2000, 1, 1))


def _wall_next(expr: str, naive: datetime) -> datetime:
    """The first wall-clock match strictly after naive `naive`."""
    it = copy.copy(_template(expr))  # get_next moves the copy's cursor, never the shared template
    found: datetime = it.get_next(datetime, start_time=naive)
    return found


def _is_fixed(expr: str) -> bool:
    return bool(_template(expr).expanded[1] != ["*"])


def _cron_after(expr: str, zone: tzinfo, after: datetime) -> datetime | None:
    """The first session instant (UTC) strictly after instant `after`, or None when there is none.

    Wall-clock matches come from croniter on naive datetimes (pure calendar arithmetic). The
    search walks the zone's constant-offset stretches: within one, a wall time maps to one
    instant; at an offset change it applies the DST rules of the module docstring."""
    fixed = _is_fixed(expr)
    lo = after + _TICK  # the search is for sessions >= lo
    while True:
        off = lo.astimezone(zone).utcoffset()
        before = (lo - _TICK).astimezone(zone).utcoffset()
        assert off is not None and before is not None
        try:
            if fixed and before < off:  # lo is exactly the end of a gap: matches inside it move here
                gap_start = lo.replace(tzinfo=None) + before
                if _wall_next(expr, gap_start - _TICK) < gap_start + (off - before):
                    return lo
            n = _wall_next(expr, lo.replace(tzinfo=None) + off - _TICK)
        except (CroniterBadDateError, OverflowError):
            return None
        if n > _NAIVE_LIMIT:
            return None
        candidate = (n - off).replace(tzinfo=UTC)
        change = _offset_change(zone, lo, candidate, off)
        if change is None:  # candidate lies in lo's stretch
            if fixed and n.replace(tzinfo=zone, fold=0).astimezone(UTC) != candidate:
                lo = candidate + _TICK  # second pass of a repeated wall time: used once only
                continue
            return candidate
        lo = change  # no session before the change: go on from it (a gap's moved session included)


def _session_after(s: Schedule, zone: tzinfo, after: datetime) -> datetime | None:
    """The first session instant (UTC) strictly after `after` (UTC), ignoring start/end."""
    if after >= FAR_FUTURE:
        return None
    if s.kind == "seconds_interval":
        step = timedelta(seconds=int(s.value))
        return _EPOCH + ((after - _EPOCH) // step + 1) * step
    expr = _cron_expr(s)
    assert expr is not None
    found = _cron_after(expr, zone, after)
    return None if found is None or found >= FAR_FUTURE else found


def _day_start(text: str, zone: tzinfo, what: str, plus_days: int = 0) -> datetime:
    m = _DATE_RE.fullmatch(text.strip())
    try:
        if not m:
            raise ValueError
        day = date(int(m.group(1)), int(m.group(2)), int(m.group(3))) + timedelta(days=plus_days)
    except ValueError:
        raise ValueError(f"Invalid {what}: {text!r} (use YYYY-MM-DD)") from None
    # midnight inside a gap (a few zones change at 00:00) resolves to the end of the gap
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def _window(s: Schedule, zone: tzinfo) -> tuple[datetime | None, datetime | None]:
    """[start 00:00, 00:00 of the day after end) as UTC instants."""
    start = _day_start(s.start, zone, "start") if s.start is not None else None
    end = _day_start(s.end, zone, "end", plus_days=1) if s.end is not None else None
    if start is not None and end is not None and start >= end:
        raise ValueError(f"The schedule of end ({s.end}) is earlier than start ({s.start})")
    return start, end


def _finished(zone: tzinfo) -> ScheduleTime:
    return ScheduleTime(FAR_FUTURE.astimezone(zone), FAR_FUTURE)


def _bounded(s: Schedule, zone: tzinfo, t: datetime | None) -> ScheduleTime:
    """Session `t` (UTC, or None: no more) moved into the start/end range, as a ScheduleTime."""
    start, end = _window(s, zone)
    if t is not None and start is not None and t < start:
        t = _session_after(s, zone, start - _TICK)
    if t is None or (end is not None and t >= end):
        return _finished(zone)
    return ScheduleTime(t.astimezone(zone), run_time_of(s, t))


def run_time_of(s: Schedule, session_time: datetime) -> datetime:
    """When session `session_time` should start: session time + `delay` seconds, in UTC.

    FAR_FUTURE (a finished schedule) stays FAR_FUTURE."""
    t = _utc(session_time, "session_time")
    if t >= FAR_FUTURE:
        return FAR_FUTURE
    return t + timedelta(seconds=s.delay)


def first_schedule(s: Schedule, zone: tzinfo, now: datetime) -> ScheduleTime:
    """The first session whose run time is >= `now`, moved to the first session on/after
    `start` when it is earlier; finished when it is after `end`.

    What a schedule starts with when a project is pushed (`now` = `schedule_from`)."""
    return _bounded(s, zone, _session_after(s, zone, _utc(now, "now") - timedelta(seconds=s.delay) - _TICK))


def next_schedule(s: Schedule, zone: tzinfo, session_time: datetime) -> ScheduleTime:
    """The session after `session_time` (which need not be a session time itself), honouring
    start/end; finished stays finished. What the scheduler moves to after starting or
    skipping a session."""
    return _bounded(s, zone, _session_after(s, zone, _utc(session_time, "session_time")))


def skip_schedule(s: Schedule, zone: tzinfo, current: ScheduleTime, count: int) -> ScheduleTime:
    """`count` sessions after `current` (`digdag reschedule --skip N`; Digdag starts from
    `first_schedule(now)`, so pass that as `current` to reproduce it). count=0 gives `current`."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    out = current
    for _ in range(count):
        if out.finished:
            break
        out = next_schedule(s, zone, out.session_time)
    return out


def schedule_at_or_after(s: Schedule, zone: tzinfo, time: datetime) -> ScheduleTime:
    """The first session whose session time is >= `time`, honouring start/end
    (`digdag reschedule --skip-to TIME`).

    Digdag's own skip-to aligns on run time instead (`first_schedule(s, zone, time)`); the two
    differ only when `time` falls between a session time and its run time."""
    return _bounded(s, zone, _session_after(s, zone, _utc(time, "time") - _TICK))


def backfill_sessions(s: Schedule, zone: tzinfo, from_time: datetime, until: datetime,
                      count: int | None) -> list[datetime]:
    """Session times >= `from_time` and < `until`, oldest first, at most the first `count`
    (`digdag backfill -f FROM [--count N]`; `until` is the schedule's next session time).

    The times are the `next_schedule` chain from `schedule_at_or_after(from_time)`, so start/end
    apply. Digdag starts the chain from `first_schedule(from_time)` (run time >= FROM) and
    refuses a count larger than the number of sessions; both are left to the caller."""
    if count is not None and count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    limit = _utc(until, "until")
    out: list[datetime] = []
    st = schedule_at_or_after(s, zone, from_time)
    while not st.finished and st.session_time < limit and (count is None or len(out) < count):
        out.append(st.session_time)
        st = next_schedule(s, zone, st.session_time)
    return out


def is_delayed(s: Schedule, run_time: datetime, now: datetime) -> bool:
    """True when `skip_delayed_by` is set and `now` is later than run time + skip_delayed_by."""
    if s.skip_delayed_by is None:
        return False
    return _utc(now, "now") > _utc(run_time, "run_time") + timedelta(seconds=s.skip_delayed_by)
