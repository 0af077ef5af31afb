"""Session-time arithmetic a scheduler is built on (dockerflow.dig.schedule): first/next
session, start/end, skip, skip-to, backfill and skip_delayed_by, including DST changes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from dockerflow.dig.schedule import (
    FAR_FUTURE,
    ScheduleTime,
    backfill_sessions,
    first_schedule,
    is_delayed,
    next_schedule,
    parse_schedule,
    run_time_of,
    schedule_at_or_after,
    skip_schedule,
)
from dockerflow.errors import DigError
from dockerflow.graph.spec import Schedule

UTC = timezone.utc
LA = ZoneInfo("America/Los_Angeles")  # 2024: DST from 03-10 02:00 PST, back 11-03 02:00 PDT
BERLIN = ZoneInfo("Europe/Berlin")  # 2024: DST from 03-31 02:00 CET, back 10-27 03:00 CEST
TOKYO = ZoneInfo("Asia/Tokyo")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # 30-minute DST
SAO_PAULO = ZoneInfo("America/Sao_Paulo")  # 2018-11-04: DST began at 00:00 (midnight does not exist)
APIA = ZoneInfo("Pacific/Apia")  # skipped 2011-12-30 entirely (-10:00 -> +14:00)
KOLKATA_FIXED = timezone(timedelta(hours=5, minutes=30))


def sched(config: dict[str, Any]) -> Schedule:
    return parse_schedule(config, DigError)


def t(text: str) -> datetime:
    """An aware time from ISO text with its offset: '2024-03-10T03:00:00-07:00'."""
    value = datetime.fromisoformat(text)
    assert value.tzinfo is not None
    return value


def local(text: str, zone: tzinfo) -> datetime:
    """A wall time in `zone` (the first one when it is repeated)."""
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def iso(value: datetime) -> str:
    return value.isoformat()


def chain(s: Schedule, zone: tzinfo, first: ScheduleTime, n: int) -> list[ScheduleTime]:
    out = [first]
    while len(out) < n:
        out.append(next_schedule(s, zone, out[-1].session_time))
    return out


def sessions_from(s: Schedule, zone: tzinfo, since: datetime, n: int) -> list[str]:
    """ISO session times of the n first sessions at or after `since`."""
    return [iso(x.session_time) for x in chain(s, zone, schedule_at_or_after(s, zone, since), n)]


def pair(st_: ScheduleTime) -> tuple[str, str]:
    return iso(st_.session_time), iso(st_.run_time)


# --- every schedule form ----------------------------------------------------------------


@pytest.mark.parametrize("now, session, run", [
    ("2016-02-03T09:34:12+00:00", "2016-02-03T00:00:00+00:00", "2016-02-03T10:00:00+00:00"),
    ("2016-02-03T10:00:00+00:00", "2016-02-03T00:00:00+00:00", "2016-02-03T10:00:00+00:00"),
    ("2016-02-03T10:00:00.000001+00:00", "2016-02-04T00:00:00+00:00", "2016-02-04T10:00:00+00:00"),
    ("2016-02-03T10:00:01+00:00", "2016-02-04T00:00:00+00:00", "2016-02-04T10:00:00+00:00"),
    ("2016-02-03T00:00:00+00:00", "2016-02-03T00:00:00+00:00", "2016-02-03T10:00:00+00:00"),
])
def test_daily_first_schedule_is_the_first_run_time_at_or_after_now(now, session, run):
    assert pair(first_schedule(sched({"daily>": "10:00:00"}), UTC, t(now))) == (session, run)


def test_daily_in_a_zone_aligns_on_local_midnight_and_reports_run_time_in_utc():
    s = sched({"daily>": "10:00:00"})
    first = first_schedule(s, TOKYO, t("2016-02-03T09:34:12+09:00"))
    assert pair(first) == ("2016-02-03T00:00:00+09:00", "2016-02-03T01:00:00+00:00")
    assert first.session_time.tzinfo is TOKYO and first.run_time.tzinfo is UTC
    # the same instant written in another zone gives the same answer
    assert first_schedule(s, TOKYO, t("2016-02-03T00:34:12+00:00")) == first
    assert pair(next_schedule(s, TOKYO, first.session_time)) == ("2016-02-04T00:00:00+09:00",
                                                                 "2016-02-04T01:00:00+00:00")


def test_hourly_session_at_the_hour_runs_at_mm_ss():
    s = sched({"hourly>": "15:00"})
    assert pair(first_schedule(s, UTC, t("2016-02-03T17:14:59+00:00"))) == (
        "2016-02-03T17:00:00+00:00", "2016-02-03T17:15:00+00:00")
    assert pair(first_schedule(s, UTC, t("2016-02-03T17:15:01+00:00"))) == (
        "2016-02-03T18:00:00+00:00", "2016-02-03T18:15:00+00:00")
    assert pair(next_schedule(s, UTC, t("2016-02-03T18:00:00+00:00"))) == (
        "2016-02-03T19:00:00+00:00", "2016-02-03T19:15:00+00:00")


def test_weekly_by_name_and_by_number():
    s = sched({"weekly>": "Sun, 09:00:00"})
    first = first_schedule(s, TOKYO, t("2024-01-03T12:00:00+09:00"))  # a Wednesday
    assert pair(first) == ("2024-01-07T00:00:00+09:00", "2024-01-07T00:00:00+00:00")
    assert iso(next_schedule(s, TOKYO, first.session_time).session_time) == "2024-01-14T00:00:00+09:00"
    monday = sched({"weekly>": "1,10:00:00"})
    assert pair(first_schedule(monday, UTC, t("2024-01-01T10:00:01+00:00"))) == (
        "2024-01-08T00:00:00+00:00", "2024-01-08T10:00:00+00:00")


def test_monthly_and_a_day_some_months_lack():
    s = sched({"monthly>": "1,09:00:00"})
    assert pair(first_schedule(s, UTC, t("2024-01-15T00:00:00+00:00"))) == (
        "2024-02-01T00:00:00+00:00", "2024-02-01T09:00:00+00:00")
    s31 = sched({"monthly>": "31,00:00:00"})
    assert sessions_from(s31, UTC, t("2024-04-01T00:00:00+00:00"), 3) == [
        "2024-05-31T00:00:00+00:00", "2024-07-31T00:00:00+00:00", "2024-08-31T00:00:00+00:00"]


def test_minutes_interval_with_delay():
    s = sched({"minutes_interval>": 15, "delay": 60})
    assert pair(first_schedule(s, UTC, t("2024-01-01T10:00:30+00:00"))) == (
        "2024-01-01T10:00:00+00:00", "2024-01-01T10:01:00+00:00")
    assert pair(first_schedule(s, UTC, t("2024-01-01T10:07:00+00:00"))) == (
        "2024-01-01T10:15:00+00:00", "2024-01-01T10:16:00+00:00")
    assert sessions_from(s, UTC, t("2024-01-01T23:31:00+00:00"), 3) == [
        "2024-01-01T23:45:00+00:00", "2024-01-02T00:00:00+00:00", "2024-01-02T00:15:00+00:00"]


def test_cron_with_delay():
    s = sched({"cron>": "0 9 * * 1-5", "delay": 1800})
    friday = first_schedule(s, TOKYO, t("2024-01-05T09:30:00+09:00"))
    assert pair(friday) == ("2024-01-05T09:00:00+09:00", "2024-01-05T00:30:00+00:00")
    assert pair(next_schedule(s, TOKYO, friday.session_time)) == (
        "2024-01-08T09:00:00+09:00", "2024-01-08T00:30:00+00:00")


def test_seconds_interval_counts_epoch_seconds():
    s = sched({"seconds_interval>": 7, "delay": 2})
    first = first_schedule(s, UTC, datetime.fromtimestamp(1_000_000_003, UTC))
    # sessions are multiples of 7 s since the epoch: 999_999_994 + 2 < now <= 1_000_000_001 + 2
    assert first.session_time.timestamp() == 1_000_000_001
    assert first.run_time.timestamp() == 1_000_000_003
    assert next_schedule(s, UTC, first.session_time).session_time.timestamp() == 1_000_000_008
    assert first_schedule(s, UTC, datetime.fromtimestamp(1_000_000_003.5, UTC)).session_time.timestamp() == \
        1_000_000_008


def test_fixed_offset_zone():
    s = sched({"daily>": "01:00:00"})
    first = first_schedule(s, KOLKATA_FIXED, t("2024-01-01T19:00:00+00:00"))
    assert pair(first) == ("2024-01-02T00:00:00+05:30", "2024-01-01T19:30:00+00:00")


def test_run_time_of():
    s = sched({"hourly>": "30:00"})
    assert iso(run_time_of(s, t("2024-01-01T10:00:00+09:00"))) == "2024-01-01T01:30:00+00:00"
    assert run_time_of(s, FAR_FUTURE) == FAR_FUTURE


def test_naive_times_are_refused():
    s = sched({"daily>": "00:00:00"})
    with pytest.raises(ValueError, match="aware"):
        first_schedule(s, UTC, datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        next_schedule(s, UTC, datetime(2024, 1, 1))


# --- start / end ----------------------------------------------------------------------------


def test_before_start_the_first_schedule_is_the_first_session_on_start():
    s = sched({"daily>": "23:59:59", "start": "2016-03-01", "end": "2016-03-31"})
    assert pair(first_schedule(s, UTC, t("2016-02-03T09:59:59+00:00"))) == (
        "2016-03-01T00:00:00+00:00", "2016-03-01T23:59:59+00:00")
    assert iso(next_schedule(s, UTC, t("2016-02-10T00:00:00+00:00")).session_time) == "2016-03-01T00:00:00+00:00"


def test_start_and_end_are_days_in_the_workflows_zone():
    s = sched({"hourly>": "15:00", "start": "2016-03-01", "end": "2016-03-31"})
    assert pair(next_schedule(s, TOKYO, t("2016-02-29T05:00:00+09:00"))) == (
        "2016-03-01T00:00:00+09:00", "2016-02-29T15:15:00+00:00")
    last = next_schedule(s, TOKYO, t("2016-03-31T22:15:00+09:00"))
    assert iso(last.session_time) == "2016-03-31T23:00:00+09:00"
    assert next_schedule(s, TOKYO, last.session_time).finished


def test_end_is_inclusive_then_far_future():
    s = sched({"daily>": "10:00:00", "start": "2016-03-01", "end": "2016-03-31"})
    assert pair(first_schedule(s, UTC, t("2016-03-31T10:00:00+00:00"))) == (
        "2016-03-31T00:00:00+00:00", "2016-03-31T10:00:00+00:00")
    done = first_schedule(s, UTC, t("2016-03-31T10:00:01+00:00"))
    assert done.finished
    assert done.run_time == FAR_FUTURE and done.session_time == FAR_FUTURE
    assert iso(FAR_FUTURE) == "9999-01-01T00:00:00+00:00"
    # finished stays finished
    assert next_schedule(s, UTC, done.session_time) == done
    assert skip_schedule(s, UTC, done, 3) == done
    # shown in the workflow's zone
    in_la = first_schedule(s, LA, t("2016-04-02T00:00:00+00:00"))
    assert in_la.finished and in_la.session_time.tzinfo is LA and in_la.session_time == FAR_FUTURE


def test_end_bounds_session_times_not_run_times():
    # the 23:30 session of the end day runs after midnight: it still runs (Digdag would not)
    s = sched({"cron>": "30 23 * * *", "delay": 3600, "end": "2024-01-10"})
    last = first_schedule(s, UTC, t("2024-01-10T12:00:00+00:00"))
    assert pair(last) == ("2024-01-10T23:30:00+00:00", "2024-01-11T00:30:00+00:00")
    assert next_schedule(s, UTC, last.session_time).finished
    # and a session before start is not used even when it would run after start
    s2 = sched({"cron>": "30 23 * * *", "delay": 3600, "start": "2024-01-05"})
    assert iso(first_schedule(s2, UTC, t("2024-01-01T00:00:00+00:00")).session_time) == "2024-01-05T23:30:00+00:00"


def test_start_and_end_on_the_same_day_give_one_session():
    s = sched({"daily>": "00:00:00", "start": "2024-02-01", "end": "2024-02-01"})
    first = first_schedule(s, LA, t("2024-01-01T00:00:00+00:00"))
    assert iso(first.session_time) == "2024-02-01T00:00:00-08:00"
    assert next_schedule(s, LA, first.session_time).finished


def test_bad_start_and_end():
    with pytest.raises(ValueError, match="Invalid start"):
        first_schedule(sched({"daily>": "00:00:00", "start": "2024-02-30"}), UTC, t("2024-01-01T00:00:00+00:00"))
    with pytest.raises(ValueError, match="Invalid end"):
        first_schedule(sched({"daily>": "00:00:00", "end": "20240101"}), UTC, t("2024-01-01T00:00:00+00:00"))
    with pytest.raises(ValueError, match="earlier than start"):
        first_schedule(sched({"daily>": "00:00:00", "start": "2024-02-02", "end": "2024-02-01"}),
                       UTC, t("2024-01-01T00:00:00+00:00"))


def test_an_impossible_cron_has_no_sessions():
    assert first_schedule(sched({"cron>": "0 0 30 2 *"}), UTC, t("2024-01-01T00:00:00+00:00")).finished


# --- DST ----------------------------------------------------------------------------------


def test_daily_keeps_local_midnight_across_dst_and_delay_is_elapsed_time():
    s = sched({"daily>": "10:00:00"})
    spring = chain(s, LA, first_schedule(s, LA, t("2024-03-09T12:00:00-08:00")), 3)
    assert [pair(x) for x in spring] == [
        ("2024-03-10T00:00:00-08:00", "2024-03-10T18:00:00+00:00"),  # 11:00 PDT: 10 h after 00:00 PST
        ("2024-03-11T00:00:00-07:00", "2024-03-11T17:00:00+00:00"),
        ("2024-03-12T00:00:00-07:00", "2024-03-12T17:00:00+00:00")]
    assert spring[1].run_time - spring[0].run_time == timedelta(hours=23)  # run times are UTC
    autumn = chain(s, BERLIN, first_schedule(s, BERLIN, t("2024-10-26T12:00:00+02:00")), 3)
    assert [iso(x.session_time) for x in autumn] == [
        "2024-10-27T00:00:00+02:00", "2024-10-28T00:00:00+01:00", "2024-10-29T00:00:00+01:00"]
    assert autumn[1].session_time.astimezone(UTC) - autumn[0].session_time.astimezone(UTC) == timedelta(hours=25)


def test_hourly_over_spring_forward_has_no_hole_in_real_time():
    s = sched({"hourly>": "30:00"})
    day = chain(s, LA, first_schedule(s, LA, t("2024-03-10T00:00:00-08:00")), 5)
    assert [pair(x) for x in day] == [
        ("2024-03-10T00:00:00-08:00", "2024-03-10T08:30:00+00:00"),
        ("2024-03-10T01:00:00-08:00", "2024-03-10T09:30:00+00:00"),
        ("2024-03-10T03:00:00-07:00", "2024-03-10T10:30:00+00:00"),  # 02:00 does not exist
        ("2024-03-10T04:00:00-07:00", "2024-03-10T11:30:00+00:00"),
        ("2024-03-10T05:00:00-07:00", "2024-03-10T12:30:00+00:00")]
    assert len(backfill_sessions(s, LA, local("2024-03-10T00:00", LA), local("2024-03-11T00:00", LA), None)) == 23
    assert len(backfill_sessions(s, BERLIN, local("2024-03-31T00:00", BERLIN),
                                 local("2024-04-01T00:00", BERLIN), None)) == 23


def test_hourly_over_fall_back_runs_both_passes_of_the_repeated_hour():
    s = sched({"hourly>": "00:00"})
    day = backfill_sessions(s, LA, local("2024-11-03T00:00", LA), local("2024-11-04T00:00", LA), None)
    assert len(day) == 25
    assert [iso(x) for x in day[:4]] == ["2024-11-03T00:00:00-07:00", "2024-11-03T01:00:00-07:00",
                                         "2024-11-03T01:00:00-08:00", "2024-11-03T02:00:00-08:00"]
    berlin = backfill_sessions(s, BERLIN, local("2024-10-27T00:00", BERLIN), local("2024-10-28T00:00", BERLIN), None)
    assert len(berlin) == 25
    assert [iso(x) for x in berlin[2:5]] == ["2024-10-27T02:00:00+02:00", "2024-10-27T02:00:00+01:00",
                                             "2024-10-27T03:00:00+01:00"]
    # a first schedule inside the second pass of the hour
    assert pair(first_schedule(sched({"hourly>": "30:00"}), LA, t("2024-11-03T01:10:00-08:00"))) == (
        "2024-11-03T01:00:00-08:00", "2024-11-03T09:30:00+00:00")


def test_cron_time_inside_the_spring_gap_runs_when_the_gap_ends():
    s = sched({"cron>": "30 2 * * *"})
    assert sessions_from(s, LA, t("2024-03-09T03:00:00-08:00"), 3) == [
        "2024-03-10T03:00:00-07:00", "2024-03-11T02:30:00-07:00", "2024-03-12T02:30:00-07:00"]
    assert sessions_from(s, BERLIN, t("2024-03-30T03:00:00+01:00"), 2) == [
        "2024-03-31T03:00:00+02:00", "2024-04-01T02:30:00+02:00"]
    # two gap times and a real 03:00 make one session
    both = sched({"cron>": "0,30 2,3 * * *"})
    assert sessions_from(both, LA, t("2024-03-10T00:00:00-08:00"), 3) == [
        "2024-03-10T03:00:00-07:00", "2024-03-10T03:30:00-07:00", "2024-03-11T02:00:00-07:00"]


def test_fixed_cron_time_in_the_repeated_hour_runs_once():
    s = sched({"cron>": "30 1 * * *"})
    assert sessions_from(s, LA, t("2024-11-02T12:00:00-07:00"), 2) == [
        "2024-11-03T01:30:00-07:00", "2024-11-04T01:30:00-08:00"]
    s2 = sched({"cron>": "30 2 * * *"})
    assert sessions_from(s2, BERLIN, t("2024-10-26T12:00:00+02:00"), 2) == [
        "2024-10-27T02:30:00+02:00", "2024-10-28T02:30:00+01:00"]


def test_a_yearly_time_in_the_repeated_hour_found_from_months_before():
    # the search must notice the spring change in between, not only compare the two ends
    s = sched({"cron>": "30 1 3 11 *"})
    assert sessions_from(s, LA, t("2024-01-01T00:00:00-08:00"), 2) == [
        "2024-11-03T01:30:00-07:00", "2025-11-03T01:30:00-08:00"]
    assert sessions_from(sched({"cron>": "30 2 10 3 *"}), LA, t("2023-12-01T00:00:00-08:00"), 2) == [
        "2024-03-10T03:00:00-07:00", "2025-03-10T02:30:00-07:00"]


def test_frequent_cron_over_both_changes():
    s = sched({"cron>": "*/30 * * * *"})
    assert sessions_from(s, LA, t("2024-03-10T01:00:00-08:00"), 3) == [
        "2024-03-10T01:00:00-08:00", "2024-03-10T01:30:00-08:00", "2024-03-10T03:00:00-07:00"]
    assert sessions_from(s, LA, t("2024-11-03T01:00:00-07:00"), 5) == [
        "2024-11-03T01:00:00-07:00", "2024-11-03T01:30:00-07:00",
        "2024-11-03T01:00:00-08:00", "2024-11-03T01:30:00-08:00", "2024-11-03T02:00:00-08:00"]


def test_midnight_that_does_not_exist():
    s = sched({"daily>": "00:00:00"})
    assert sessions_from(s, SAO_PAULO, t("2018-11-03T00:00:00-03:00"), 3) == [
        "2018-11-03T00:00:00-03:00", "2018-11-04T01:00:00-02:00", "2018-11-05T00:00:00-02:00"]
    # a start day whose midnight is missing starts at the end of the gap, with that session
    started = sched({"daily>": "00:00:00", "start": "2018-11-04"})
    assert iso(first_schedule(started, SAO_PAULO, t("2018-10-01T00:00:00-03:00")).session_time) == \
        "2018-11-04T01:00:00-02:00"
    # a search that starts exactly at the end of a gap still finds the session moved there
    assert iso(schedule_at_or_after(s, SAO_PAULO, t("2018-11-04T01:00:00-02:00")).session_time) == \
        "2018-11-04T01:00:00-02:00"
    assert iso(schedule_at_or_after(sched({"cron>": "30 2 * * *"}), LA, t("2024-03-10T03:00:00-07:00"))
               .session_time) == "2024-03-10T03:00:00-07:00"


def test_a_skipped_day_makes_one_session():
    s = sched({"daily>": "00:00:00"})
    assert sessions_from(s, APIA, t("2011-12-29T00:00:00-10:00"), 3) == [
        "2011-12-29T00:00:00-10:00", "2011-12-31T00:00:00+14:00", "2012-01-01T00:00:00+14:00"]


def _matcher(expr: str) -> Any:
    """A test of naive wall times against the cron fields (Vixie's day-of-month OR day-of-week)."""
    minute, hour, dom, month, dow = croniter(expr).expanded[:5]

    def has(field: list[Any], value: int) -> bool:
        return field == ["*"] or value in field

    def matches(n: datetime) -> bool:
        wday = (n.weekday() + 1) % 7
        days_ok = (has(dom, n.day) and has(dow, wday)) if "*" in (dom[0], dow[0]) else \
            (n.day in dom or wday in dow)
        return n.second == 0 and has(minute, n.minute) and has(hour, n.hour) and has(month, n.month) and days_ok
    return matches


def oracle(expr: str, zone: tzinfo, lo: datetime, hi: datetime) -> list[datetime]:
    """The sessions in (lo, hi) by brute force over every UTC minute, by the documented rules:
    a frequent expression (hour `*`) matches every instant whose wall clock matches; a fixed one
    uses a repeated wall time once (its earliest instant) and moves matches in a gap to its end."""
    fixed = croniter(expr).expanded[1] != ["*"]
    matches = _matcher(expr)
    found: set[datetime] = set()
    offsets: set[timedelta] = set()
    prev: timedelta | None = None
    x = lo.astimezone(UTC).replace(second=0, microsecond=0)
    while x < hi:
        off = x.astimezone(zone).utcoffset()
        assert off is not None
        wall = x.replace(tzinfo=None) + off
        offsets.add(off)
        if fixed and prev is not None and off > prev:  # a gap starts at x
            m = x.replace(tzinfo=None) + prev
            while m < wall:
                if matches(m):
                    found.add(x)
                    break
                m += timedelta(minutes=1)
        if matches(wall):
            earlier = any((wall - o).replace(tzinfo=UTC) < x and
                          (wall - o).replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None) == wall
                          for o in offsets)
            if not (fixed and earlier):
                found.add(x)
        prev = off
        x += timedelta(minutes=1)
    return sorted(v for v in found if lo < v < hi)


@pytest.mark.parametrize("zone, around", [
    (LA, "2024-03-10T02:00:00"), (LA, "2024-11-03T01:30:00"),
    (BERLIN, "2024-03-31T02:00:00"), (BERLIN, "2024-10-27T02:30:00"),
    (LORD_HOWE, "2024-04-07T01:45:00"), (LORD_HOWE, "2024-10-06T02:00:00"),
    (SAO_PAULO, "2018-11-04T00:00:00"), (SAO_PAULO, "2019-02-16T23:30:00"),
])
@pytest.mark.parametrize("expr", [
    "0 * * * *", "*/20 * * * *", "15 * * * *", "30 2 * * *", "30 1 * * *", "0 2 * * *", "0 0 * * *",
    "*/30 1-3 * * *", "0 */2 * * *", "45 23 * * *",
])
def test_session_chain_matches_brute_force_around_dst_changes(zone, around, expr):
    centre = datetime.fromisoformat(around).replace(tzinfo=zone)
    lo, hi = centre - timedelta(hours=30), centre + timedelta(hours=30)
    expected = oracle(expr, zone, lo, hi)
    s = sched({"cron>": expr})
    got = backfill_sessions(s, zone, lo + timedelta(seconds=1), hi, None)
    assert [iso(v) for v in got] == [iso(v.astimezone(zone)) for v in expected]


# --- backfill, skip, skip-to, skip_delayed_by -----------------------------------------------


def test_backfill_range_and_count():
    s = sched({"daily>": "09:00:00"})
    until = first_schedule(s, UTC, t("2024-01-05T12:00:00+00:00")).session_time  # 01-06: the next one
    assert iso(until) == "2024-01-06T00:00:00+00:00"
    days = backfill_sessions(s, UTC, t("2024-01-01T00:00:00+00:00"), until, None)
    assert [iso(v) for v in days] == ["2024-01-01T00:00:00+00:00", "2024-01-02T00:00:00+00:00",
                                      "2024-01-03T00:00:00+00:00", "2024-01-04T00:00:00+00:00",
                                      "2024-01-05T00:00:00+00:00"]
    assert backfill_sessions(s, UTC, t("2024-01-01T00:00:00+00:00"), until, 2) == days[:2]
    assert backfill_sessions(s, UTC, t("2024-01-01T00:00:00+00:00"), until, 9) == days
    assert backfill_sessions(s, UTC, t("2024-01-01T00:00:00+00:00"), until, 0) == []
    # from a time of day: session times >= from
    assert backfill_sessions(s, UTC, t("2024-01-01T05:00:00+00:00"), until, None) == days[1:]
    assert backfill_sessions(s, UTC, until, until, None) == []
    with pytest.raises(ValueError):
        backfill_sessions(s, UTC, t("2024-01-01T00:00:00+00:00"), until, -1)


def test_backfill_honours_start_and_end_and_returns_zone_times():
    s = sched({"daily>": "00:00:00", "start": "2024-01-03", "end": "2024-01-04"})
    got = backfill_sessions(s, LA, t("2024-01-01T00:00:00+00:00"), FAR_FUTURE, None)
    assert [iso(v) for v in got] == ["2024-01-03T00:00:00-08:00", "2024-01-04T00:00:00-08:00"]
    assert all(v.tzinfo is LA for v in got)


def test_skip_by_count():
    s = sched({"hourly>": "00:00"})
    current = first_schedule(s, UTC, t("2024-01-01T10:30:00+00:00"))
    assert iso(current.session_time) == "2024-01-01T11:00:00+00:00"
    assert iso(skip_schedule(s, UTC, current, 3).session_time) == "2024-01-01T14:00:00+00:00"
    assert skip_schedule(s, UTC, current, 0) == current
    with pytest.raises(ValueError):
        skip_schedule(s, UTC, current, -1)
    ending = sched({"hourly>": "00:00", "end": "2024-01-01"})
    assert skip_schedule(ending, UTC, first_schedule(ending, UTC, t("2024-01-01T20:30:00+00:00")), 5).finished


def test_skip_to_is_the_first_session_time_at_or_after():
    s = sched({"daily>": "09:00:00"})
    assert pair(schedule_at_or_after(s, UTC, t("2024-01-05T00:00:00+00:00"))) == (
        "2024-01-05T00:00:00+00:00", "2024-01-05T09:00:00+00:00")
    assert iso(schedule_at_or_after(s, UTC, t("2024-01-05T05:00:00+00:00")).session_time) == \
        "2024-01-06T00:00:00+00:00"
    # ...while the first schedule (by run time) at that moment is still the 01-05 session
    assert iso(first_schedule(s, UTC, t("2024-01-05T05:00:00+00:00")).session_time) == "2024-01-05T00:00:00+00:00"
    assert iso(schedule_at_or_after(s, TOKYO, t("2024-01-05T00:00:00+00:00")).session_time) == \
        "2024-01-06T00:00:00+09:00"
    assert schedule_at_or_after(sched({"daily>": "09:00:00", "end": "2024-01-04"}), UTC,
                                t("2024-01-05T00:00:00+00:00")).finished


def test_is_delayed():
    run = t("2024-01-01T10:00:00+00:00")
    s = sched({"daily>": "10:00:00", "skip_delayed_by": "1h"})
    assert not is_delayed(s, run, t("2024-01-01T11:00:00+00:00"))
    assert is_delayed(s, run, t("2024-01-01T11:00:01+00:00"))
    assert not is_delayed(s, run, t("2024-01-01T20:00:00+09:00"))  # 11:00 UTC
    assert is_delayed(s, run, t("2024-01-01T20:00:01+09:00"))
    assert not is_delayed(sched({"daily>": "10:00:00"}), run, t("2030-01-01T00:00:00+00:00"))


# --- properties -------------------------------------------------------------------------

# (config, an upper bound of the time between two sessions, DST changes included)
FORMS: st.SearchStrategy[tuple[dict[str, Any], timedelta]] = st.one_of(
    st.builds(lambda m, s: ({"hourly>": f"{m:02d}:{s:02d}"}, timedelta(hours=3)),
              st.integers(0, 59), st.integers(0, 59)),
    st.builds(lambda h, m: ({"daily>": f"{h:02d}:{m:02d}:00"}, timedelta(days=2)),
              st.integers(0, 30), st.integers(0, 59)),
    st.builds(lambda d, h: ({"weekly>": f"{d},{h:02d}:00:00"}, timedelta(days=8)),
              st.sampled_from(["Sun", "Mon", "Sat", "3"]), st.integers(0, 23)),
    st.builds(lambda d, h: ({"monthly>": f"{d},{h:02d}:00:00"}, timedelta(days=32)),
              st.integers(1, 28), st.integers(0, 23)),
    st.builds(lambda m, d: ({"minutes_interval>": m, "delay": d}, timedelta(hours=3)),
              st.sampled_from([1, 5, 7, 15, 30, 45]), st.integers(0, 600)),
    st.builds(lambda c, d: ({"cron>": c[0], "delay": d}, c[1]),
              st.sampled_from([("30 2 * * *", timedelta(days=2)), ("0,30 1-3 * * *", timedelta(days=2)),
                               ("*/20 * * * *", timedelta(hours=3)), ("0 9 * * 1-5", timedelta(days=4)),
                               ("15 */6 * * *", timedelta(hours=8)), ("0 0 1,15 * *", timedelta(days=17))]),
              st.integers(0, 7200)),
    st.builds(lambda n, d: ({"seconds_interval>": n, "delay": d}, timedelta(seconds=n)),
              st.integers(1, 7200), st.integers(0, 100)),
)
PROPERTY_ZONES = [UTC, LA, BERLIN, TOKYO, LORD_HOWE, SAO_PAULO, KOLKATA_FIXED]


@st.composite
def moments(draw: st.DrawFn) -> tuple[tzinfo, datetime]:
    zone = draw(st.sampled_from(PROPERTY_ZONES))
    if draw(st.booleans()):  # anywhere
        now = draw(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2039, 12, 31),
                                timezones=st.just(UTC)))
    else:  # in the months DST changes happen in (both hemispheres), often near a change
        now = datetime(draw(st.integers(2000, 2039)), draw(st.sampled_from([2, 3, 4, 9, 10, 11])),
                       draw(st.integers(1, 28)), draw(st.integers(0, 23)), draw(st.integers(0, 59)),
                       draw(st.sampled_from([0, 0, 1, 59])), tzinfo=zone)
    return zone, now


@settings(max_examples=300, deadline=None)
@given(form=FORMS, moment=moments())
def test_properties_of_first_next_and_backfill(form, moment):
    config, max_gap = form
    zone, now = moment
    s = sched(config)
    first = first_schedule(s, zone, now)
    assert first.run_time >= now
    assert first.run_time == run_time_of(s, first.session_time)
    assert first.session_time.tzinfo is zone and first.run_time.tzinfo is UTC

    # it is the first such: walking from well before, every earlier session runs before now
    walk = schedule_at_or_after(s, zone, now - timedelta(seconds=s.delay) - max_gap)
    assert walk.run_time < now
    while walk.run_time < now:
        nxt = next_schedule(s, zone, walk.session_time)
        assert nxt.session_time - walk.session_time <= max_gap
        walk = nxt
    assert walk == first

    sessions = chain(s, zone, first, 6)
    for a, b in zip(sessions, sessions[1:]):
        assert b.session_time > a.session_time and b.run_time > a.run_time
        assert b.run_time == run_time_of(s, b.session_time)

    until = sessions[-1].session_time
    expected = [x.session_time for x in sessions[:-1]]
    assert backfill_sessions(s, zone, first.session_time, until, None) == expected
    assert backfill_sessions(s, zone, first.session_time, until, 2) == expected[:2]
    assert skip_schedule(s, zone, first, 5) == sessions[-1]
