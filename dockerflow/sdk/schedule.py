"""`schedule:` forms, one model each (dig-spec §1.6).

    Hourly("30:00")            hourly>: '30:00'           runs at +MM:SS past each hour
    Daily("07:00:00")          daily>: '07:00:00'
    Weekly("Sun,09:00:00")     weekly>: Sun,09:00:00
    Monthly("1,09:00:00")      monthly>: 1,09:00:00
    MinutesInterval(15)        minutes_interval>: 15
    Cron("42 4 1 * *")         cron>: '42 4 1 * *'
    SecondsInterval(2)         seconds_interval>: 2     (undocumented; used in tests)

All take `start`/`end` (`YYYY-MM-DD`, end inclusive), `skip_on_overtime`, `skip_delayed_by`
(a duration such as `1h`) and `delay` (seconds, for `cron>`/`minutes_interval>`).  Schedules
are never `${...}`-evaluated, so their values are checked here as the engine will check them.
The form `daily>: {at: ...}` is read as the same model as `daily>: ...`.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from croniter import croniter
from pydantic import AfterValidator, Field

from dockerflow.sdk.values import Duration, IntStr, Model

__all__ = [
    "Cron",
    "Daily",
    "Hourly",
    "MinutesInterval",
    "Monthly",
    "SCHEDULE_MODELS",
    "Schedule",
    "ScheduleBase",
    "SecondsInterval",
    "Weekly",
]

_DATE = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


class ScheduleBase(Model):
    """Options shared by every schedule form."""

    KIND: ClassVar[str]
    VALUE_FIELD: ClassVar[str]

    start: _DATE | None = None
    end: _DATE | None = None
    skip_on_overtime: bool | None = None
    skip_delayed_by: Duration | None = None
    delay: Annotated[int, Field(ge=0)] | IntStr | None = None

    @property
    def value(self) -> Any:
        """The value written after `kind>:`."""
        return getattr(self, self.VALUE_FIELD)


def _hms(text: str, parts: int, what: str) -> str:
    fields = text.split(":")
    if len(fields) != parts or not all(f.isdigit() for f in fields):
        raise ValueError(f"{what} requires {'HH:MM:SS' if parts == 3 else 'MM:SS'}"
                         f" format, got {text!r}")
    return text


def _hourly(text: str) -> str:
    return _hms(text, 2, "hourly>")


def _daily(text: str) -> str:
    return _hms(text, 3, "daily>")


def _weekly(text: str) -> str:
    day, comma, hms = text.partition(",")
    day = day.strip()
    if not comma or not (day.isdigit() or day.lower()[:3] in _WEEKDAYS):
        raise ValueError(f"weekly> needs a weekday and a time like 'Sun,09:00:00', got {text!r}")
    _hms(hms, 3, "weekly>")
    return text


def _monthly(text: str) -> str:
    day, comma, hms = text.partition(",")
    day = day.strip()
    if not comma or not (day.isdigit() and 1 <= int(day) <= 31):
        raise ValueError(f"monthly> needs a day of month and a time like '1,09:00:00',"
                         f" got {text!r}")
    _hms(hms, 3, "monthly>")
    return text


def _cron(text: str) -> str:
    if len(text.split()) != 5 or not croniter.is_valid(text):
        raise ValueError(f"cron> needs a valid 5-field cron expression, got {text!r}")
    return text


_Positive = Annotated[int, Field(ge=1)] | Annotated[str, Field(pattern=r"^[0-9]*[1-9][0-9]*$")]


class Hourly(ScheduleBase):
    """`hourly>: MM:SS`: a session each hour, run MM:SS after it."""

    KIND = "hourly"
    VALUE_FIELD = "at"
    at: Annotated[str, AfterValidator(_hourly)]

    def __init__(self, at: str, **options: Any) -> None:
        """`Hourly(value, start=..., skip_delayed_by=...)`; the value may also be named."""
        data: dict[str, Any] = {"at": at, **options}
        super().__init__(**data)


class Daily(ScheduleBase):
    """`daily>: HH:MM:SS`: a session each day at 00:00, run at HH:MM:SS."""

    KIND = "daily"
    VALUE_FIELD = "at"
    at: Annotated[str, AfterValidator(_daily)]

    def __init__(self, at: str, **options: Any) -> None:
        """`Daily(value, start=..., skip_delayed_by=...)`; the value may also be named."""
        data: dict[str, Any] = {"at": at, **options}
        super().__init__(**data)


class Weekly(ScheduleBase):
    """`weekly>: DDD,HH:MM:SS`: a weekday given by name (`Sun`) or number."""

    KIND = "weekly"
    VALUE_FIELD = "at"
    at: Annotated[str, AfterValidator(_weekly)]

    def __init__(self, at: str, **options: Any) -> None:
        """`Weekly(value, start=..., skip_delayed_by=...)`; the value may also be named."""
        data: dict[str, Any] = {"at": at, **options}
        super().__init__(**data)


class Monthly(ScheduleBase):
    """`monthly>: D,HH:MM:SS`: day D of each month."""

    KIND = "monthly"
    VALUE_FIELD = "at"
    at: Annotated[str, AfterValidator(_monthly)]

    def __init__(self, at: str, **options: Any) -> None:
        """`Monthly(value, start=..., skip_delayed_by=...)`; the value may also be named."""
        data: dict[str, Any] = {"at": at, **options}
        super().__init__(**data)


class MinutesInterval(ScheduleBase):
    """`minutes_interval>: M`: every M minutes (cron `*/M * * * *`)."""

    KIND = "minutes_interval"
    VALUE_FIELD = "minutes"
    minutes: _Positive

    def __init__(self, minutes: int | str, **options: Any) -> None:
        """`MinutesInterval(value, start=..., skip_delayed_by=...)`; the value may also be named."""
        data: dict[str, Any] = {"minutes": minutes, **options}
        super().__init__(**data)


class SecondsInterval(ScheduleBase):
    """`seconds_interval>: S`: every S seconds (undocumented in Digdag; used in tests)."""

    KIND = "seconds_interval"
    VALUE_FIELD = "seconds"
    seconds: _Positive

    def __init__(self, seconds: int | str, **options: Any) -> None:
        """`SecondsInterval(value, start=..., skip_delayed_by=...)`; the value may also be named."""
        data: dict[str, Any] = {"seconds": seconds, **options}
        super().__init__(**data)


class Cron(ScheduleBase):
    """`cron>: '…'`: a 5-field cron expression."""

    KIND = "cron"
    VALUE_FIELD = "expression"
    expression: Annotated[str, AfterValidator(_cron)]

    def __init__(self, expression: str, **options: Any) -> None:
        """`Cron(value, start=..., skip_delayed_by=...)`; the value may also be named."""
        data: dict[str, Any] = {"expression": expression, **options}
        super().__init__(**data)


Schedule = Hourly | Daily | Weekly | Monthly | MinutesInterval | SecondsInterval | Cron
"""Any schedule form."""

SCHEDULE_MODELS: dict[str, type[ScheduleBase]] = {
    cls.KIND: cls
    for cls in (Hourly, Daily, Weekly, Monthly, MinutesInterval, SecondsInterval, Cron)
}

SCHEDULE_OPTIONS = ("start", "end", "skip_on_overtime", "skip_delayed_by", "delay")
