"""The server's scheduler: workflows' `schedule:` become schedules at push, and their sessions
start at their run times.

    schedule_specs(workflows, from_time)   a push's schedules, with their first sessions
    decide(schedule, active, now)          start or skip a due session, and what comes next
    Scheduler(store, launch, clock)
      tick()                               starts every due session (tests call it with a
                                           hand-moved clock)
      run(stop)                            tick, then sleep until the next run time or until
                                           a push, enable or reschedule changes the schedules

Each due session is taken in one store transaction (`Store.fire_schedule`, which PostgreSQL
runs under FOR UPDATE SKIP LOCKED): several servers on one database start it exactly once.
The attempt is created leased by this server; if the server dies before it runs it, another
takes it over like any orphaned attempt. After downtime, every missed session starts in turn,
unless `skip_delayed_by` says they are too late; `skip_on_overtime` skips a session while an
attempt of the workflow still runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from dockerflow.clock import Clock, SystemClock
from dockerflow.dig.schedule import ScheduleTime, first_schedule, is_delayed, next_schedule, parse_schedule
from dockerflow.errors import DigError
from dockerflow.graph.spec import Schedule
from dockerflow.store.base import ScheduleFiring, ScheduleRecord, ScheduleSpec, Store
from dockerflow.timeutil import iso_offset, parse_zone

log = logging.getLogger("dockerflow.server")
LONGEST_SLEEP = 3600.0  # a wake-up at least hourly, whatever the database says


def schedule_of(config: Mapping[str, Any]) -> tuple[Schedule, Any]:
    """The parsed schedule and zone of a ScheduleRecord's (or spec's) config."""
    return (parse_schedule(config["schedule"], lambda m: DigError(m)),
            parse_zone(str(config.get("timezone") or "UTC")))


def spec_times(at: ScheduleTime) -> tuple[float, str]:
    return at.run_time.timestamp(), iso_offset(at.session_time)


def schedule_specs(workflows: Sequence[tuple[str, str, Mapping[str, Any]]],
                   from_time: datetime) -> list[ScheduleSpec]:
    """(name, timezone, config) of a revision's workflows -> the schedules of those that have a
    `schedule:`, each at its first session whose run time is at or after `from_time`."""
    out = []
    for name, zone_name, config in workflows:
        block = config.get("schedule")
        if not isinstance(block, Mapping):
            continue
        stored = {"schedule": dict(block), "timezone": zone_name}
        schedule, zone = schedule_of(stored)
        run, session = spec_times(first_schedule(schedule, zone, from_time))
        out.append(ScheduleSpec(name, stored, run, session))
    return out


def decide(record: ScheduleRecord, active: bool, now: float) -> ScheduleFiring:
    schedule, zone = schedule_of(record.config)
    current = datetime.fromisoformat(record.next_schedule_time)
    run_time = datetime.fromtimestamp(record.next_run_time, timezone.utc)
    late = is_delayed(schedule, run_time, datetime.fromtimestamp(now, timezone.utc))
    overtime = schedule.skip_on_overtime and active
    if late or overtime:
        log.info("schedule %s (%s): session %s skipped (%s)", record.id, record.workflow,
                 record.next_schedule_time, "skip_delayed_by" if late else "skip_on_overtime")
    run, session = spec_times(next_schedule(schedule, zone, current))
    return ScheduleFiring(not (late or overtime), run, session)


class Scheduler:
    """`launch(attempt_id)`: run an attempt the scheduler created (the server engine's)."""

    def __init__(self, store: Store, launch: Callable[[int], None], owner: str,
                 lease_seconds: float, clock: Clock | None = None) -> None:
        self.store = store
        self.launch = launch
        self.owner = owner
        self.lease = lease_seconds
        self.clock = clock or SystemClock()

    def tick(self) -> list[int]:
        """Start every session due now; the attempts started (skipped sessions have none)."""
        started: list[int] = []
        while True:
            now = self.clock.now()
            fired = self.store.fire_schedule(now, lambda r, active: decide(r, active, now),
                                             self.owner, self.lease)
            if fired is None:
                return started
            schedule, attempt_id = fired
            if attempt_id is None:
                continue
            log.info("schedule %s: started attempt %s of %s for %s", schedule.id, attempt_id,
                     schedule.workflow, schedule.next_schedule_time)
            started.append(attempt_id)
            try:
                self.launch(attempt_id)
            except Exception:  # noqa: BLE001 - the attempt stays leased; it is taken over later
                log.exception("attempt %s of schedule %s could not start", attempt_id, schedule.id)

    def run(self, stop: threading.Event) -> None:
        listener = self.store.listen("schedules")
        try:
            while not stop.is_set():
                try:
                    self.tick()
                    upcoming = self.store.next_schedule_run()
                except Exception:  # noqa: BLE001 - a database hiccup: try again soon
                    log.exception("the scheduler failed; trying again in 10 s")
                    upcoming = self.clock.now() + 10
                wait = LONGEST_SLEEP if upcoming is None else upcoming - self.clock.now()
                if wait > 0:
                    listener.wait(min(wait, LONGEST_SLEEP))  # a change wakes it early
        finally:
            listener.close()

    def stop_listening(self) -> None:
        """Wake run() (it then sees its stop event)."""
        self.store.notify("schedules")


def restart_names(clear: Collection[str], clear_all: bool,
                  workflows: Sequence[tuple[str, str, Mapping[str, Any]]]) -> set[str]:
    """The workflows whose schedules a push starts over (clear_schedule, clear_schedule_all)."""
    return {name for name, _, _ in workflows} if clear_all else set(clear)
