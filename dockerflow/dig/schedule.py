"""`schedule:` parsing and session-time arithmetic (croniter does the cron part)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Callable

from croniter import croniter

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
