"""The server's scheduler over a hand-moved clock and a real SQLite store (no sleeping): it
starts due sessions at their times, catches up after downtime, skips what skip_delayed_by and
skip_on_overtime say, honours end dates and DST in the workflow's zone."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from dockerflow.server.scheduler import Scheduler, schedule_specs
from dockerflow.store import AttemptStatus, Store, open_store


class ManualClock:
    def __init__(self, start: datetime) -> None:
        self.t = start.timestamp()

    def now(self) -> float:
        return self.t

    def set(self, when: datetime) -> None:
        self.t = when.timestamp()


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)  # type: ignore[misc]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = open_store(str(tmp_path / "s.db"))
    yield opened
    opened.close()


def setup(store: Store, schedule: dict[str, Any], clock: ManualClock, zone: str = "UTC",
          project: str = "p") -> tuple[Scheduler, list[int]]:
    workflows = [("wf", zone, {"schedule": schedule, "+a": {"echo>": "hi"}})]
    store.put_revision(project, "r1", b"tgz", workflows,
                       schedules=schedule_specs(workflows, datetime.fromtimestamp(clock.now(), timezone.utc)))
    launched: list[int] = []
    return Scheduler(store, launched.append, "me", 30, clock), launched


def sessions(store: Store) -> list[str]:
    return sorted(a.session_time for a in store.attempts())


def test_a_session_starts_at_its_run_time_not_before(store: Store) -> None:
    clock = ManualClock(utc(2024, 3, 1, 6, 0))
    scheduler, launched = setup(store, {"daily>": "07:30:00"}, clock)
    assert scheduler.tick() == []
    clock.set(utc(2024, 3, 1, 7, 29, 59))
    assert scheduler.tick() == []
    clock.set(utc(2024, 3, 1, 7, 30))
    started = scheduler.tick()
    assert len(started) == 1 and launched == started
    assert sessions(store) == ["2024-03-01T00:00:00+00:00"]  # session 00:00, run at +07:30
    attempt = store.get_attempt(started[0])
    assert attempt is not None and attempt.status is AttemptStatus.RUNNING
    assert scheduler.tick() == []  # once
    schedule = store.schedules()[0]
    assert schedule.next_schedule_time == "2024-03-02T00:00:00+00:00"
    assert schedule.next_run_time == utc(2024, 3, 2, 7, 30).timestamp()


def test_missed_sessions_all_run_after_downtime(store: Store) -> None:
    clock = ManualClock(utc(2024, 3, 1, 0, 0))
    scheduler, _ = setup(store, {"hourly>": "05:00"}, clock)
    clock.set(utc(2024, 3, 1, 3, 10))  # the server was down for three hours
    assert len(scheduler.tick()) == 4
    assert sessions(store) == ["2024-03-01T00:00:00+00:00", "2024-03-01T01:00:00+00:00",
                               "2024-03-01T02:00:00+00:00", "2024-03-01T03:00:00+00:00"]


def test_skip_delayed_by_skips_sessions_that_are_too_late(store: Store) -> None:
    clock = ManualClock(utc(2024, 3, 1, 0, 0))
    scheduler, _ = setup(store, {"hourly>": "00:00", "skip_delayed_by": "30m"}, clock)
    clock.set(utc(2024, 3, 1, 3, 10))
    assert len(scheduler.tick()) == 1  # only 03:00 is less than 30 minutes late
    assert sessions(store) == ["2024-03-01T03:00:00+00:00"]
    assert store.schedules()[0].next_schedule_time == "2024-03-01T04:00:00+00:00"


def test_skip_on_overtime_skips_while_the_previous_attempt_runs(store: Store) -> None:
    clock = ManualClock(utc(2024, 3, 1, 0, 0, 30))
    scheduler, _ = setup(store, {"minutes_interval>": 1, "skip_on_overtime": True}, clock)
    clock.set(utc(2024, 3, 1, 0, 1))
    first = scheduler.tick()
    assert len(first) == 1
    clock.set(utc(2024, 3, 1, 0, 2))
    assert scheduler.tick() == []  # 00:01 still runs: 00:02 is skipped
    store.finish_attempt(first[0], AttemptStatus.SUCCESS)
    clock.set(utc(2024, 3, 1, 0, 3))
    assert len(scheduler.tick()) == 1
    assert sessions(store) == ["2024-03-01T00:01:00+00:00", "2024-03-01T00:03:00+00:00"]


def test_nothing_starts_after_the_end_date(store: Store) -> None:
    clock = ManualClock(utc(2024, 3, 30, 12, 0))
    scheduler, _ = setup(store, {"daily>": "01:00:00", "end": "2024-03-31"}, clock)
    clock.set(utc(2024, 4, 5))
    assert len(scheduler.tick()) == 1  # 03-31 (end is inclusive), nothing after
    assert sessions(store) == ["2024-03-31T00:00:00+00:00"]
    assert store.schedules()[0].next_schedule_time.startswith("9999-01-01")
    assert store.next_schedule_run() == utc(9999, 1, 1).timestamp()


def test_a_daily_schedule_keeps_local_midnight_across_dst(store: Store) -> None:
    clock = ManualClock(utc(2024, 3, 9, 12, 0))  # Los Angeles springs forward on 03-10
    scheduler, _ = setup(store, {"daily>": "00:00:00"}, clock, zone="America/Los_Angeles")
    clock.set(utc(2024, 3, 12, 12, 0))
    assert len(scheduler.tick()) == 3
    assert sessions(store) == ["2024-03-10T00:00:00-08:00", "2024-03-11T00:00:00-07:00",
                               "2024-03-12T00:00:00-07:00"]


def test_disabled_schedules_wait_and_a_deleted_projects_stop(store: Store) -> None:
    clock = ManualClock(utc(2024, 3, 1, 0, 0))
    scheduler, _ = setup(store, {"hourly>": "00:00"}, clock)
    schedule = store.schedules()[0]
    store.update_schedule(schedule.id, disabled=True)
    clock.set(utc(2024, 3, 1, 5, 0))
    assert scheduler.tick() == []
    store.update_schedule(schedule.id, disabled=False)
    assert len(scheduler.tick()) == 6  # enabled without skipping: 00:00 to 05:00 run
    store.delete_project(schedule.project_id)
    clock.set(utc(2024, 3, 1, 9, 0))
    assert scheduler.tick() == []


def test_two_schedulers_on_one_database_start_each_session_once(store: Store, tmp_path: Path) -> None:
    clock = ManualClock(utc(2024, 3, 1, 0, 0, 30))
    first, _ = setup(store, {"minutes_interval>": 1}, clock)
    other_store = open_store(str(tmp_path / "s.db"))
    try:
        second = Scheduler(other_store, lambda _id: None, "other", 30, clock)
        started: list[int] = []
        for minute in range(1, 31):
            clock.set(utc(2024, 3, 1, 0, minute))
            started += (first if minute % 2 else second).tick() + (second if minute % 2 else first).tick()
        assert len(started) == len(set(started)) == 30
        assert len(set(sessions(store))) == 30
    finally:
        other_store.close()


def test_a_push_with_the_same_schedule_keeps_its_next_session(store: Store) -> None:
    clock = ManualClock(utc(2024, 3, 1, 0, 0))
    scheduler, _ = setup(store, {"daily>": "07:00:00"}, clock)
    clock.set(utc(2024, 3, 3, 8, 0))
    workflows = [("wf", "UTC", {"schedule": {"daily>": "07:00:00"}})]
    store.put_revision("p", "r2", b"tgz2", workflows,
                       schedules=schedule_specs(workflows, utc(2024, 3, 3, 8, 0)))
    assert len(scheduler.tick()) == 3  # 03-01, 03-02 and 03-03 still run
    changed = [("wf", "UTC", {"schedule": {"daily>": "09:00:00"}})]
    store.put_revision("p", "r3", b"tgz3", changed, schedules=schedule_specs(changed, utc(2024, 3, 3, 8, 0)))
    assert store.schedules()[0].next_run_time == utc(2024, 3, 3, 9, 0).timestamp()  # starts over
