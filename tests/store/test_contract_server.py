"""The Store contract's server parts, on SQLite and PostgreSQL (fixtures in conftest.py):
project secrets, the param store, schedules kept by pushes, firing due schedules once, and
backfill chains."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from dockerflow.store import AttemptStatus, ScheduleFiring, ScheduleRecord, ScheduleSpec, Store

DAILY = {"daily>": "07:00:00"}
HOURLY = {"hourly>": "05:00"}


def spec(workflow: str, config: dict, run: float, session: str) -> ScheduleSpec:
    return ScheduleSpec(workflow, config, run, session)


def push(store: Store, revision: str, schedules: list[ScheduleSpec], *workflows: str,
         restart: tuple[str, ...] = (), project: str = "proj") -> int:
    names = workflows or tuple(s.workflow for s in schedules)
    p, _ = store.put_revision(project, revision, b"tgz", [(n, "UTC", {}) for n in names],
                              schedules=schedules, restart_schedules=restart)
    return p.id


# -- secrets -----------------------------------------------------------------------------------
def test_secrets_are_kept_per_project(store: Store, other: Store) -> None:
    a = push(store, "r1", [], "wf", project="a")
    b = push(store, "r1", [], "wf", project="b")
    store.put_secret(a, "db.password", "cipher-1")
    store.put_secret(a, "api_key", "cipher-2")
    store.put_secret(b, "db.password", "cipher-3")
    assert other.secret_keys(a) == ["api_key", "db.password"]
    assert other.secret_values(b) == {"db.password": "cipher-3"}
    store.put_secret(a, "api_key", "cipher-4")  # replaced
    assert other.secret_values(a) == {"api_key": "cipher-4", "db.password": "cipher-1"}
    assert other.delete_secret(a, "api_key") is True
    assert other.delete_secret(a, "api_key") is False
    assert store.secret_keys(a) == ["db.password"]
    assert store.secret_keys(12345) == []


# -- param store -------------------------------------------------------------------------------
def test_params_are_set_and_read_back_until_they_are_too_old(store: Store, other: Store) -> None:
    assert store.param_get("k", 3600) is None
    store.param_set({"k": "v1", "other": "x"})
    assert other.param_get("k", 3600) == "v1"
    other.param_set({"k": "v2"})
    assert store.param_get("k", 3600) == "v2"
    time.sleep(0.05)
    assert store.param_get("k", 0.01) is None  # older than allowed


# -- schedules ---------------------------------------------------------------------------------
def test_a_push_makes_keeps_changes_and_removes_schedules(store: Store, other: Store) -> None:
    pid = push(store, "r1", [spec("a", DAILY, 100.0, "S1"), spec("b", HOURLY, 200.0, "S2")])
    first = {s.workflow: s for s in other.schedules(project_id=pid)}
    assert sorted(first) == ["a", "b"]
    assert (first["a"].next_run_time, first["a"].next_schedule_time, first["a"].config) == (100.0, "S1", DAILY)
    assert first["a"].disabled_at is None
    # the schedule of a moved on; a second push with the same block keeps its times
    store.update_schedule(first["a"].id, next_run_time=150.0, next_schedule_time="S1b", disabled=True)
    push(store, "r2", [spec("a", DAILY, 999.0, "X"), spec("b", {"hourly>": "06:00"}, 300.0, "S3")])
    second = {s.workflow: s for s in other.schedules(project_id=pid)}
    assert (second["a"].id, second["a"].next_run_time, second["a"].next_schedule_time) == (first["a"].id, 150.0, "S1b")
    assert second["a"].disabled_at is not None  # still disabled
    assert second["a"].workflow_id != first["a"].workflow_id  # the new revision's definition
    assert (second["b"].next_run_time, second["b"].next_schedule_time) == (300.0, "S3")  # changed block
    # restart: the spec's times even with the same block; a workflow without schedule loses it
    push(store, "r3", [spec("a", DAILY, 500.0, "R")], "a", "b", restart=("a",))
    third = other.schedules(project_id=pid)
    assert [(s.workflow, s.next_run_time, s.next_schedule_time) for s in third] == [("a", 500.0, "R")]
    assert other.get_schedule(second["b"].id) is None


def test_schedules_of_a_deleted_project_are_gone(store: Store, other: Store) -> None:
    pid = push(store, "r1", [spec("a", DAILY, 100.0, "S1")])
    sid = store.schedules()[0].id
    store.delete_project(pid)
    assert other.schedules() == [] and other.get_schedule(sid) is None
    assert other.next_schedule_run() is None


def test_schedules_page_and_filter(store: Store, other: Store) -> None:
    push(store, "r1", [spec("a", DAILY, 1.0, "S"), spec("b", DAILY, 2.0, "S")], project="p1")
    push(store, "r1", [spec("a", DAILY, 3.0, "S")], project="p2")
    everything = other.schedules()
    assert [s.next_run_time for s in everything] == [1.0, 2.0, 3.0]
    assert [s.next_run_time for s in other.schedules(last_id=everything[0].id, count=1)] == [2.0]
    assert [s.next_run_time for s in other.schedules(workflow="a")] == [1.0, 3.0]


def test_next_schedule_run_is_the_earliest_enabled(store: Store, other: Store) -> None:
    assert store.next_schedule_run() is None
    push(store, "r1", [spec("a", DAILY, 50.0, "S"), spec("b", DAILY, 20.0, "S")])
    assert other.next_schedule_run() == 20.0
    b = next(s for s in store.schedules() if s.workflow == "b")
    store.update_schedule(b.id, disabled=True)
    assert other.next_schedule_run() == 50.0
    enabled = store.update_schedule(b.id, disabled=False)
    assert enabled is not None and enabled.disabled_at is None
    assert other.next_schedule_run() == 20.0


def _moves_on(schedule: ScheduleRecord, active: bool) -> ScheduleFiring:
    return ScheduleFiring(True, schedule.next_run_time + 60, schedule.next_schedule_time + "+")


def test_firing_a_due_schedule_starts_its_session_once(store: Store, other: Store) -> None:
    push(store, "r1", [spec("a", DAILY, 100.0, "2024-01-01T00:00:00+00:00")])
    assert store.fire_schedule(99.0, _moves_on, "me", 30) is None  # not due yet
    fired = store.fire_schedule(100.0, _moves_on, "me", 30)
    assert fired is not None
    schedule, attempt_id = fired
    assert attempt_id is not None and schedule.next_schedule_time == "2024-01-01T00:00:00+00:00"
    attempt = other.get_attempt(attempt_id)
    assert attempt is not None and attempt.status is AttemptStatus.RUNNING
    assert (attempt.workflow, attempt.session_time, attempt.workflow_id) == ("a", "2024-01-01T00:00:00+00:00", schedule.workflow_id)
    assert other.lease_attempt(attempt_id, "someone else", 30) is False  # leased by "me"
    moved = other.get_schedule(schedule.id)
    assert moved is not None and moved.next_run_time == 160.0
    assert store.fire_schedule(100.0, _moves_on, "me", 30) is None  # not due any more


def test_a_session_that_already_has_an_attempt_is_not_started_again(store: Store) -> None:
    pid = push(store, "r1", [spec("a", DAILY, 100.0, "T")])
    session = store.open_session("a", "T", "u", project_id=pid)
    existing = store.start_attempt(session.id)
    fired = store.fire_schedule(100.0, _moves_on, "me", 30)
    assert fired is not None and fired[1] is None
    assert [a.id for a in store.session_attempts(session.id)] == [existing]


def test_a_skip_moves_on_without_a_session_and_decide_sees_running_attempts(store: Store) -> None:
    pid = push(store, "r1", [spec("a", DAILY, 100.0, "T1")])
    seen: list[bool] = []

    def skip(schedule: ScheduleRecord, active: bool) -> ScheduleFiring:
        seen.append(active)
        return ScheduleFiring(False, 200.0, "T2")

    assert store.fire_schedule(100.0, skip, "me", 30) is not None
    assert store.sessions(project_id=pid) == []
    store.start_attempt(store.open_session("a", "T0", "u", project_id=pid).id)  # running
    store.fire_schedule(200.0, skip, "me", 30)
    assert seen == [False, True]
    assert store.next_schedule_run() == 200.0


def test_disabled_schedules_do_not_fire(store: Store) -> None:
    push(store, "r1", [spec("a", DAILY, 100.0, "T")])
    store.update_schedule(store.schedules()[0].id, disabled=True)
    assert store.fire_schedule(1000.0, _moves_on, "me", 30) is None


def test_racing_schedulers_start_each_session_once(store: Store, connect: Callable[[], Store]) -> None:
    push(store, "r1", [spec(f"wf{i}", DAILY, 100.0 + i, f"2024-01-0{i + 1}T00:00:00+00:00") for i in range(5)])
    stores = [connect() for _ in range(3)]
    started: list[int] = []
    lock = threading.Lock()

    def once(schedule: ScheduleRecord, active: bool) -> ScheduleFiring:
        return ScheduleFiring(True, 10_000.0, "later")

    def run(mine: Store) -> None:
        while (fired := mine.fire_schedule(1000.0, once, "me", 30)) is not None:
            if fired[1] is not None:
                with lock:
                    started.append(fired[1])

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(started) == len(set(started)) == 5
    assert len(store.attempts()) == 5


# -- backfill chains ---------------------------------------------------------------------------
def test_an_attempt_remembers_the_one_it_waits_for(store: Store, other: Store) -> None:
    first = store.start_attempt(store.open_session("wf", "T1", "u").id)
    second = store.start_attempt(store.open_session("wf", "T2", "v").id, after_attempt_id=first)
    assert other.get_attempt(second).after_attempt_id == first
    assert other.get_attempt(first).after_attempt_id is None


# -- task logs in a folder ---------------------------------------------------------------------
def test_task_logs_can_be_kept_as_files(store: Store, other: Store, tmp_path: Path) -> None:
    attempt = store.start_attempt(store.open_session("wf", "T", "u").id)
    store.append_log(attempt, "+wf+before", ["in the database"])
    folder = tmp_path / "logs"
    store.keep_logs_in(folder)
    other.keep_logs_in(folder)
    store.append_log(attempt, "+wf+a", ["one", "two"])
    other.append_log(attempt, "+wf+a", ["three"])  # another process, the same files
    store.append_log(attempt, "+wf+b/c", ["slash"])
    store.append_log(attempt, "+wf+b_c", ["underscore"])  # the same file name once made safe
    assert other.task_log(attempt, "+wf+a") == ["one", "two", "three"]
    assert other.task_log(attempt, "+wf+b/c") == ["slash"] and other.task_log(attempt, "+wf+b_c") == ["underscore"]
    assert other.task_log(attempt, "+wf+before") == ["in the database"]
    assert other.log_tasks(attempt) == ["+wf+before", "+wf+a", "+wf+b/c", "+wf+b_c"]
    assert other.task_log(attempt, "+wf+none") == []
    assert (folder / str(attempt) / "+wf+a.log").read_text() == "one\ntwo\nthree\n"
