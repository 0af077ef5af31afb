"""The Store contract, one suite run against SQLite (a temporary file) and PostgreSQL (a fresh
database on the test server). A second `open_store` of the same URL stands for another
process's view of the database."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

from dockerflow.errors import DockerflowError, UserInputError
from dockerflow.store import AttemptExists, AttemptStatus, SessionRecord, Store, TaskRecord, open_store
from dockerflow.store.sql import FLUSH_ENTRIES

T0 = "2024-01-01T00:00:00+00:00"


def new_attempt(store: Store, workflow: str = "wf", when: str = T0) -> int:
    return store.start_attempt(store.open_session(workflow, when, "uuid-1").id)


# -- sessions ----------------------------------------------------------------------------------
def test_a_session_is_unique_and_keeps_its_first_uuid(store: Store, other: Store) -> None:
    first = store.open_session("wf", T0, "uuid-1")
    again = other.open_session("wf", T0, "uuid-2")
    assert (again.id, again.uuid) == (first.id, "uuid-1")
    assert (again.workflow, again.session_time) == ("wf", T0)
    assert store.open_session("wf", "2024-01-02T00:00:00+00:00", "uuid-3").id != first.id
    assert store.open_session("other", T0, "uuid-4").id != first.id


def test_last_session_time_is_the_session_used_last(store: Store, other: Store) -> None:
    assert store.last_session_time("wf") is None
    store.open_session("wf", "2024-01-01T00:00:00+00:00", "a")
    store.open_session("wf", "2024-01-02T00:00:00+00:00", "b")
    assert other.last_session_time("wf") == "2024-01-02T00:00:00+00:00"
    other.open_session("wf", "2024-01-01T00:00:00+00:00", "c")
    assert store.last_session_time("wf") == "2024-01-01T00:00:00+00:00"
    assert store.last_session_time("nothing") is None


def test_last_executed_before_compares_times_with_offsets(store: Store) -> None:
    tokyo = "2024-01-01T08:00:00+09:00"  # 2023-12-31T23:00Z
    utc = "2024-01-01T00:00:00+00:00"
    later = "2024-01-01T10:00:00+00:00"
    for when in (tokyo, utc, later):
        new_attempt(store, when=when)
    store.open_session("wf", "2024-01-01T05:00:00+00:00", "no attempt")
    new_attempt(store, workflow="elsewhere", when="2024-01-01T09:00:00+00:00")
    at = datetime(2024, 1, 1, 9, 30, tzinfo=timezone.utc)
    assert store.last_executed_before("wf", at) == datetime.fromisoformat(utc)
    assert store.last_executed_before("wf", datetime.fromisoformat(utc)) == datetime.fromisoformat(tokyo)
    assert store.last_executed_before("wf", datetime.fromisoformat(tokyo)) is None


def test_sessions_are_unique_per_project(store: Store, other: Store) -> None:
    local = store.open_session("wf", T0, "local")
    one = store.open_session("wf", T0, "one", project_id=1)
    two = other.open_session("wf", T0, "two", project_id=2)
    assert len({local.id, one.id, two.id}) == 3
    assert (local.project_id, one.project_id, two.project_id) == (0, 1, 2)
    again = other.open_session("wf", T0, "again", project_id=1)
    assert (again.id, again.uuid, again.project_id) == (one.id, "one", 1)
    assert store.open_session("wf", T0, "again").id == local.id
    assert other.get_session(two.id) == SessionRecord(two.id, "wf", T0, "two", 2)
    assert store.get_session(two.id + 1000) is None
    # project 0 (local runs) is untouched by the others' sessions
    store.open_session("wf", "2024-01-05T00:00:00+00:00", "later", project_id=1)
    assert store.last_session_time("wf") == T0
    assert store.last_session_time("wf", project_id=1) == "2024-01-05T00:00:00+00:00"
    assert store.last_session_time("wf", project_id=3) is None
    store.start_attempt(one.id)
    at = datetime(2024, 1, 9, tzinfo=timezone.utc)
    assert store.last_executed_before("wf", at) is None
    assert store.last_executed_before("wf", at, project_id=1) == datetime.fromisoformat(T0)


def test_sessions_are_listed_newest_first(store: Store, other: Store) -> None:
    made = [store.open_session(wf, f"2024-01-0{day}T00:00:00+00:00", f"u{wf}{day}", project_id=project)
            for day in range(1, 4) for project, wf in ((0, "wf"), (1, "wf"), (1, "other"))]
    ids = [s.id for s in made]
    assert [s.id for s in other.sessions()] == ids[::-1]
    assert other.sessions()[0] == made[-1]
    assert [s.id for s in other.sessions(project_id=1)] == [s.id for s in made[::-1] if s.project_id == 1]
    assert [s.id for s in other.sessions(project_id=0)] == [s.id for s in made[::-1] if s.project_id == 0]
    mine = [s.id for s in made[::-1] if s.project_id == 1 and s.workflow == "wf"]
    assert [s.id for s in other.sessions(project_id=1, workflow="wf")] == mine
    assert [s.id for s in other.sessions(workflow="other")] == [s.id for s in made[::-1] if s.workflow == "other"]
    page = other.sessions(page_size=4)
    assert [s.id for s in page] == ids[::-1][:4]
    rest = other.sessions(last_id=page[-1].id, page_size=100)
    assert [s.id for s in rest] == ids[::-1][4:]
    assert other.sessions(last_id=ids[0]) == []
    assert other.sessions(project_id=7) == []


# -- attempts ----------------------------------------------------------------------------------
def test_an_attempt_runs_then_has_a_status_and_a_finish_time(store: Store, other: Store) -> None:
    session = store.open_session("wf", T0, "u")
    before = time.time()
    attempt_id = store.start_attempt(session.id, {"region": "eu", "n": 3})
    record = other.get_attempt(attempt_id)
    assert record is not None
    assert (record.session_id, record.workflow, record.session_time) == (session.id, "wf", T0)
    assert record.status is AttemptStatus.RUNNING and not record.status.done
    assert record.finished_at is None and not record.cancel_requested
    assert record.params == {"region": "eu", "n": 3}
    assert before - 1 <= record.started_at <= time.time() + 1
    store.finish_attempt(attempt_id, AttemptStatus.ERROR)
    record = other.get_attempt(attempt_id)
    assert record is not None and record.status is AttemptStatus.ERROR and record.status.done
    assert record.finished_at is not None and record.finished_at >= record.started_at
    assert store.get_attempt(attempt_id + 1000) is None


def test_last_attempt_is_the_newest(store: Store) -> None:
    session = store.open_session("wf", T0, "u")
    assert store.last_attempt(session.id) is None
    first = store.start_attempt(session.id)
    store.finish_attempt(first, AttemptStatus.KILLED)
    second = store.start_attempt(session.id)
    last = store.last_attempt(session.id)
    assert last is not None and last.id == second and last.status is AttemptStatus.RUNNING
    assert last.params == {}
    store.finish_attempt(second, AttemptStatus.SUCCESS)
    last = store.last_attempt(session.id)
    assert last is not None and last.status is AttemptStatus.SUCCESS


def test_attempts_know_their_index_retry_name_workflow_and_project(store: Store, other: Store) -> None:
    project, revision = store.put_revision("proj", "r1", b"tgz", [("wf", "UTC", {}), ("wf2", "UTC", {})])
    wf, wf2 = (w.id for w in store.workflows_of(revision.id))
    session = store.open_session("wf", T0, "u", project_id=project.id)
    ids = [store.start_attempt(session.id, {"n": n}, retry_attempt_name=name, workflow_id=workflow)
           for n, (name, workflow) in enumerate([(None, wf), ("retry1", wf2), (None, None)])]
    records = other.session_attempts(session.id)
    assert [(a.id, a.index) for a in records] == [(ids[0], 1), (ids[1], 2), (ids[2], 3)]
    assert [(a.retry_attempt_name, a.workflow_id, a.params) for a in records] == [
        (None, wf, {"n": 0}), ("retry1", wf2, {"n": 1}), (None, None, {"n": 2})]
    assert {(a.project_id, a.workflow, a.session_time, a.session_id) for a in records} == {
        (project.id, "wf", T0, session.id)}
    assert other.get_attempt(ids[1]) == records[1]
    last = other.last_attempt(session.id)
    assert last is not None and last == records[2] and last.index == 3
    elsewhere = new_attempt(store, when="2024-01-02T00:00:00+00:00")
    record = store.get_attempt(elsewhere)
    assert record is not None and (record.index, record.project_id, record.retry_attempt_name) == (1, 0, None)
    assert store.session_attempts(session.id + 1000) == []


def test_a_unique_attempt_refuses_a_second_one_of_the_same_retry_name(store: Store, other: Store) -> None:
    session = store.open_session("wf", T0, "u", project_id=1)
    first = store.start_attempt(session.id, unique=True)
    with pytest.raises(AttemptExists) as info:
        other.start_attempt(session.id, {"x": 1}, unique=True)
    assert info.value.attempt_id == first and isinstance(info.value, DockerflowError)
    retry = other.start_attempt(session.id, retry_attempt_name="retry1", unique=True)
    with pytest.raises(AttemptExists) as info:
        store.start_attempt(session.id, retry_attempt_name="retry1", unique=True)
    assert info.value.attempt_id == retry
    retry2 = store.start_attempt(session.id, retry_attempt_name="retry2", unique=True)
    assert [a.id for a in store.session_attempts(session.id)] == [first, retry, retry2]
    # not unique: as local runs do, any number of attempts of a session
    more = [store.start_attempt(session.id) for _ in range(2)]
    more.append(store.start_attempt(session.id, retry_attempt_name="retry1"))
    assert [a.id for a in store.session_attempts(session.id)] == [first, retry, retry2, *more]
    # another session of the same workflow is not concerned
    fresh = store.open_session("wf", T0, "v", project_id=2)
    assert store.start_attempt(fresh.id, retry_attempt_name="retry1", unique=True) > more[-1]


def test_racing_unique_attempts_have_one_winner(store: Store, connect: Callable[[], Store]) -> None:
    stores = [connect() for _ in range(4)]
    for round_ in range(5):
        session = store.open_session("wf", f"2024-01-0{round_ + 1}T00:00:00+00:00", "u", project_id=1)
        won: list[int] = []
        lost: list[int] = []
        errors: list[BaseException] = []
        start = threading.Barrier(len(stores))

        def race(mine: Store, session_id: int = session.id) -> None:
            try:
                start.wait()
                won.append(mine.start_attempt(session_id, retry_attempt_name="r", unique=True))
            except AttemptExists as exc:
                lost.append(exc.attempt_id)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=race, args=(mine,)) for mine in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(won) == 1 and lost == won * (len(stores) - 1)
        assert [a.id for a in store.session_attempts(session.id)] == won


def test_attempts_are_listed_newest_first(store: Store, other: Store) -> None:
    a = store.open_session("wf", T0, "a", project_id=1)
    b = store.open_session("other", T0, "b", project_id=1)
    c = store.open_session("wf", T0, "c")  # local
    order = [(a, 1), (b, 1), (a, 2), (c, 1), (b, 2), (a, 3)]
    ids = [store.start_attempt(session.id) for session, _ in order]
    newest = ids[::-1]
    assert [x.id for x in other.attempts()] == newest
    assert [x.index for x in other.attempts()] == [n for _, n in order][::-1]
    assert [x.id for x in other.attempts(session_id=a.id)] == [ids[5], ids[2], ids[0]]
    assert [x.id for x in other.attempts(project_id=1)] == [ids[5], ids[4], ids[2], ids[1], ids[0]]
    assert [x.id for x in other.attempts(project_id=0)] == [ids[3]]
    assert [x.id for x in other.attempts(project_id=1, workflow="wf")] == [ids[5], ids[2], ids[0]]
    assert [x.id for x in other.attempts(workflow="wf")] == [ids[5], ids[3], ids[2], ids[0]]
    # only the newest of each session
    assert [x.id for x in other.attempts(include_retried=False)] == [ids[5], ids[4], ids[3]]
    assert [x.id for x in other.attempts(include_retried=False, last_id=ids[4])] == [ids[3]]
    assert [x.id for x in other.attempts(project_id=1, include_retried=False)] == [ids[5], ids[4]]
    # by state
    store.finish_attempt(ids[1], AttemptStatus.ERROR)
    store.finish_attempt(ids[4], AttemptStatus.SUCCESS)
    assert [x.id for x in other.attempts(status=AttemptStatus.ERROR)] == [ids[1]]
    assert [x.id for x in other.attempts(status=AttemptStatus.RUNNING)] == [ids[5], ids[3], ids[2], ids[0]]
    assert [x.id for x in other.attempts(status=AttemptStatus.SUCCESS, project_id=0)] == []
    # paging backwards
    page = other.attempts(page_size=4)
    assert [x.id for x in page] == newest[:4]
    assert [x.id for x in other.attempts(last_id=page[-1].id, page_size=4)] == newest[4:]
    assert [x.id for x in other.attempts(project_id=1, last_id=ids[2], page_size=1)] == [ids[1]]
    assert other.attempts(last_id=ids[0]) == []
    assert other.attempts(session_id=a.id + 1000) == []


def test_finish_attempt_flushes_buffered_writes(store: Store, other: Store) -> None:
    attempt_id = new_attempt(store)
    store.save_task(TaskRecord(attempt_id, "+wf+a", "success"))
    store.finish_attempt(attempt_id, AttemptStatus.SUCCESS)
    assert [t.name for t in other.tasks(attempt_id)] == ["+wf+a"]


def test_request_cancel_marks_the_attempt(store: Store, other: Store) -> None:
    a, b = new_attempt(store), new_attempt(store, when="2024-01-02T00:00:00+00:00")
    assert store.canceled_attempts([a, b]) == set()
    other.request_cancel(a)
    assert store.canceled_attempts([a, b, 999]) == {a}
    assert store.canceled_attempts([]) == set()
    record = store.get_attempt(a)
    assert record is not None and record.cancel_requested
    assert store.canceled_attempts(range(1, 2000)) == {a}  # more ids than one IN (...) holds


# -- images ------------------------------------------------------------------------------------
def test_images_of_an_attempt(store: Store, other: Store) -> None:
    attempt_id = new_attempt(store)
    assert store.attempt_images(attempt_id) == {}
    store.record_images(attempt_id, {"python:3.11": "sha256:aaa", "debian": "sha256:bbb"})
    store.record_images(attempt_id, {"python:3.11": "sha256:ccc"})
    store.record_images(attempt_id, {})
    assert other.attempt_images(attempt_id) == {"debian": "sha256:bbb", "python:3.11": "sha256:ccc"}


# -- results -----------------------------------------------------------------------------------
def test_results_are_buffered_until_flushed(store: Store, other: Store) -> None:
    session = store.open_session("wf", T0, "u")
    store.save_result(session.id, "+wf+a", {"state": "success", "store": {"x": 1}})
    store.save_result(session.id, "+wf+b", {"state": "success", "when": datetime(2024, 1, 1)})
    assert other.results(session.id) == {}  # still in the buffer
    store.flush()
    assert other.results(session.id) == {"+wf+a": {"state": "success", "store": {"x": 1}},
                                          "+wf+b": {"state": "success", "when": "2024-01-01 00:00:00"}}
    store.save_result(session.id, "+wf+a", {"state": "success", "store": {"x": 2}})
    assert store.results(session.id)["+wf+a"]["store"] == {"x": 2}  # a store sees its own writes
    assert other.results(session.id)["+wf+a"]["store"] == {"x": 2}


def test_clear_results(store: Store, other: Store) -> None:
    one = store.open_session("wf", T0, "u")
    two = store.open_session("wf", "2024-01-02T00:00:00+00:00", "v")
    store.save_result(one.id, "+wf+a", {"n": 1})
    store.save_result(two.id, "+wf+a", {"n": 2})
    store.clear_results(one.id)
    assert other.results(one.id) == {}
    assert other.results(two.id) == {"+wf+a": {"n": 2}}


# -- tasks -------------------------------------------------------------------------------------
def test_tasks_keep_the_latest_save_in_first_saved_order(store: Store, other: Store) -> None:
    attempt_id = new_attempt(store)
    store.save_task(TaskRecord(attempt_id, "+wf+b", "ready"))
    store.save_task(TaskRecord(attempt_id, "+wf+a", "blocked"))
    store.save_task(TaskRecord(attempt_id, "+wf+b", "running", started_at=10.5))
    store.flush()
    store.save_task(TaskRecord(attempt_id, "+wf+a", "ready"))
    done = TaskRecord(attempt_id, "+wf+b", "error", retry_count=2, retry_at=99.25, started_at=10.5,
                      finished_at=12.0, result={"store": {"k": [1, 2]}},
                      error={"message": "boom", "class": "TaskFailure"})
    store.save_task(done)
    assert [(t.name, t.state) for t in other.tasks(attempt_id)] == [("+wf+b", "running"), ("+wf+a", "blocked")]
    assert store.tasks(attempt_id) == [done, TaskRecord(attempt_id, "+wf+a", "ready")]
    assert other.tasks(attempt_id) == store.tasks(attempt_id)
    assert store.tasks(attempt_id + 1) == []


def test_a_tasks_place_in_the_tree_comes_with_its_first_record(store: Store) -> None:
    attempt_id = new_attempt(store)
    store.save_task(TaskRecord(attempt_id, "+wf", "planned", task_id=1, is_group=True, config={}, upstreams=()))
    store.save_task(TaskRecord(attempt_id, "+wf+b", "running", task_id=3, parent_id=1, is_group=False,
                               config={"_command": "echo", "_export": {"x": 1}}, upstreams=(2,)))
    store.flush()
    store.save_task(TaskRecord(attempt_id, "+wf+b", "success"))  # later saves leave it as it was
    by_name = {t.name: t for t in store.tasks(attempt_id)}
    b = by_name["+wf+b"]
    assert (b.state, b.task_id, b.parent_id, b.is_group, b.upstreams) == ("success", 3, 1, False, (2,))
    assert b.config == {"_command": "echo", "_export": {"x": 1}}
    assert (by_name["+wf"].is_group, by_name["+wf"].parent_id, by_name["+wf"].upstreams) == (True, None, ())


def test_the_buffer_flushes_itself_when_full_or_old(store: Store, other: Store,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("dockerflow.store.sql.FLUSH_SECONDS", 0.2)
    attempt_id = new_attempt(store)
    for i in range(FLUSH_ENTRIES):
        store.save_task(TaskRecord(attempt_id, f"+wf+t{i}", "success"))
    assert len(other.tasks(attempt_id)) == FLUSH_ENTRIES
    store.save_task(TaskRecord(attempt_id, "+wf+late", "ready"))
    assert len(other.tasks(attempt_id)) == FLUSH_ENTRIES
    time.sleep(0.25)
    store.save_task(TaskRecord(attempt_id, "+wf+later", "ready"))  # the last flush is too old
    assert len(other.tasks(attempt_id)) == FLUSH_ENTRIES + 2


def test_close_flushes(connect: Callable[[], Store]) -> None:
    store = connect()
    attempt_id = new_attempt(store)
    store.save_task(TaskRecord(attempt_id, "+wf+a", "success"))
    store.close()
    store.close()  # twice is fine
    assert [t.state for t in connect().tasks(attempt_id)] == ["success"]


def test_saves_from_several_threads(store: Store, other: Store) -> None:
    attempt_id = new_attempt(store)

    def save(n: int) -> None:
        for i in range(300):
            store.save_task(TaskRecord(attempt_id, f"+wf+t{n}_{i}", "success"))
            if i % 50 == 0:
                store.append_log(attempt_id, f"+wf+t{n}", [f"line {i}"])

    threads = [threading.Thread(target=save, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.flush()
    assert len(other.tasks(attempt_id)) == 6 * 300
    assert other.task_log(attempt_id, "+wf+t3") == [f"line {i}" for i in range(0, 300, 50)]


# -- logs --------------------------------------------------------------------------------------
def test_logs_keep_their_order(store: Store, other: Store) -> None:
    attempt_id = new_attempt(store)
    store.append_log(attempt_id, "+wf+b", ["b1", "b2"])
    store.append_log(attempt_id, "+wf+a", ["a1"])
    store.append_log(attempt_id, "+wf+b", ["b3"])
    store.append_log(attempt_id, "+wf+c", [])
    assert other.task_log(attempt_id, "+wf+b") == ["b1", "b2", "b3"]  # not buffered
    assert other.task_log(attempt_id, "+wf+a") == ["a1"]
    assert other.task_log(attempt_id, "+wf+c") == []
    assert other.log_tasks(attempt_id) == ["+wf+b", "+wf+a"]
    assert other.log_tasks(attempt_id + 1) == []


# -- archives ----------------------------------------------------------------------------------
def test_archives_are_content_addressed(store: Store, other: Store) -> None:
    import hashlib

    data = bytes(range(256)) * 4096  # 1 MiB, every byte value
    digest = store.put_archive(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert other.put_archive(data) == digest
    assert other.get_archive(digest) == data
    assert store.get_archive(hashlib.sha256(b"x").hexdigest()) is None
    assert store.get_archive(store.put_archive(b"")) == b""


# -- the queue ---------------------------------------------------------------------------------
def test_enqueue_claim_complete_take(store: Store, other: Store) -> None:
    attempt_id = new_attempt(store)
    assert store.claim("w1", 30) is None
    first = store.enqueue(attempt_id, "+wf+a", {"command": ["echo", "a"]})
    second = store.enqueue(attempt_id, "+wf+b", {"command": ["echo", "b"]})
    assert store.queued(attempt_id) == 2
    claim = other.claim("w1", 30)
    assert claim is not None
    assert (claim.queue_id, claim.attempt_id, claim.task_name) == (first, attempt_id, "+wf+a")
    assert claim.request == {"command": ["echo", "a"]} and claim.retry_count == 0
    assert store.queued(attempt_id) == 2  # claimed is still queued: no outcome yet
    assert other.complete(first, "w1", {"state": "success", "store": {"x": 1}})
    assert not other.complete(first, "w1", {"state": "again"})  # done already
    assert store.queued(attempt_id) == 1
    outcomes = store.take_outcomes(attempt_id)
    assert [(o.queue_id, o.attempt_id, o.task_name, o.outcome, o.retry_count) for o in outcomes] == [
        (first, attempt_id, "+wf+a", {"state": "success", "store": {"x": 1}}, 0)]
    assert store.take_outcomes(attempt_id) == []
    claim = other.claim("w2", 30)
    assert claim is not None and claim.queue_id == second
    assert other.claim("w3", 30) is None


def test_outcomes_come_in_completion_order(store: Store) -> None:
    attempt_id = new_attempt(store)
    ids = [store.enqueue(attempt_id, f"+wf+t{i}", {}) for i in range(3)]
    claims = [store.claim("w", 30) for _ in ids]
    assert [c.queue_id for c in claims if c] == ids
    for queue_id in (ids[2], ids[0], ids[1]):
        assert store.complete(queue_id, "w", {"id": queue_id})
        time.sleep(0.002)
    assert [o.queue_id for o in store.take_outcomes(attempt_id)] == [ids[2], ids[0], ids[1]]


def test_queues_of_attempts_are_separate(store: Store) -> None:
    a, b = new_attempt(store), new_attempt(store, when="2024-01-02T00:00:00+00:00")
    qa, qb = store.enqueue(a, "+wf+x", {}), store.enqueue(b, "+wf+x", {})
    for owner in ("w1", "w2"):
        claim = store.claim(owner, 30)
        assert claim is not None and store.complete(claim.queue_id, owner, {})
    assert [o.queue_id for o in store.take_outcomes(b)] == [qb]
    assert [o.queue_id for o in store.take_outcomes(a)] == [qa]


def test_concurrent_claims_never_share_a_row(store: Store, connect: Callable[[], Store]) -> None:
    attempt_id = new_attempt(store)
    rows = {store.enqueue(attempt_id, f"+wf+t{i}", {"i": i}) for i in range(120)}
    stores = [connect() for _ in range(4)]
    claimed: Counter[int] = Counter()
    lock = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        mine = stores[n % 4]  # two threads per store object, four connections
        owner = f"w{n}"
        try:
            start.wait()
            while (claim := mine.claim(owner, 60)) is not None:
                with lock:
                    claimed[claim.queue_id] += 1
                assert mine.complete(claim.queue_id, owner, {"by": owner})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert set(claimed) == rows and set(claimed.values()) == {1}
    assert len(store.take_outcomes(attempt_id)) == len(rows)


def test_an_expired_lease_is_taken_over(store: Store, other: Store) -> None:
    attempt_id = new_attempt(store)
    queue_id = store.enqueue(attempt_id, "+wf+a", {"n": 1})
    old = store.claim("old", 0.05)
    assert old is not None and old.retry_count == 0
    assert other.claim("new", 30) is None  # still held
    time.sleep(0.1)
    new = other.claim("new", 30)
    assert new is not None and (new.queue_id, new.retry_count, new.request) == (queue_id, 1, {"n": 1})
    assert store.heartbeat("old", [queue_id], 30) == set()
    assert not store.complete(queue_id, "old", {"by": "old"})
    assert other.complete(queue_id, "new", {"by": "new"})
    [outcome] = store.take_outcomes(attempt_id)
    assert outcome.outcome == {"by": "new"} and outcome.retry_count == 1


def test_heartbeat_extends_the_lease(store: Store, other: Store) -> None:
    attempt_id = new_attempt(store)
    ids = [store.enqueue(attempt_id, f"+wf+t{i}", {}) for i in range(3)]
    held = [store.claim("w1", 0.3) for _ in range(2)]
    assert [h.queue_id for h in held if h] == ids[:2]
    assert store.heartbeat("w1", [*ids, 12345], 30) == set(ids[:2])
    assert store.heartbeat("w2", ids, 30) == set()
    assert store.heartbeat("w1", [], 30) == set()
    time.sleep(0.4)
    claim = other.claim("w2", 30)  # the held ones are not expired: only the third is free
    assert claim is not None and claim.queue_id == ids[2]
    assert other.claim("w3", 30) is None
    expiry = store.next_lease_expiry()
    assert expiry is not None and time.time() + 25 < expiry < time.time() + 31
    assert store.complete(ids[0], "w1", {})
    assert store.heartbeat("w1", ids, 30) == {ids[1]}  # completed rows are no longer held


def test_canceled_attempts_are_not_claimable(store: Store, other: Store) -> None:
    doomed, kept = new_attempt(store), new_attempt(store, when="2024-01-02T00:00:00+00:00")
    held = store.enqueue(doomed, "+wf+held", {})
    expired = store.enqueue(doomed, "+wf+expired", {})
    store.enqueue(doomed, "+wf+free", {})
    survivor = store.enqueue(kept, "+wf+other", {})
    assert store.claim("w1", 30) is not None
    assert store.claim("w1", 0.01) is not None
    time.sleep(0.05)
    listener = other.listen("cancel")
    try:
        other.request_cancel(doomed)
        assert listener.wait(5)
    finally:
        listener.close()
    assert store.queued(doomed) == 1  # the held one stays; the free and the expired one are gone
    assert store.queued(kept) == 1
    claim = other.claim("w2", 30)
    assert claim is not None and claim.queue_id == survivor
    store.enqueue(doomed, "+wf+late", {})
    assert other.claim("w2", 30) is None
    assert store.complete(held, "w1", {"state": "canceled"})  # its worker still reports
    assert [o.queue_id for o in store.take_outcomes(doomed)] == [held]
    assert expired not in {o.queue_id for o in store.take_outcomes(doomed)}


def test_release_gives_a_row_back(store: Store, other: Store) -> None:
    attempt_id = new_attempt(store)
    queue_id = store.enqueue(attempt_id, "+wf+a", {})
    assert store.claim("w1", 30) is not None
    store.release(queue_id, "w2")  # not w2's to give back
    assert other.claim("w2", 30) is None
    listener = other.listen("queue")
    try:
        store.release(queue_id, "w1")
        assert listener.wait(5)
    finally:
        listener.close()
    assert store.next_lease_expiry() is None
    claim = other.claim("w2", 30)
    assert claim is not None and (claim.queue_id, claim.retry_count) == (queue_id, 0)
    assert not store.complete(queue_id, "w1", {})


def test_next_lease_expiry(store: Store) -> None:
    assert store.next_lease_expiry() is None
    attempt_id = new_attempt(store)
    first = store.enqueue(attempt_id, "+wf+a", {})
    store.enqueue(attempt_id, "+wf+b", {})
    assert store.next_lease_expiry() is None  # nothing is leased
    before = time.time()
    assert store.claim("w1", 60) is not None
    assert store.claim("w1", 20) is not None
    expiry = store.next_lease_expiry()
    assert expiry is not None and before + 20 <= expiry <= time.time() + 20
    store.complete(first, "w1", {})
    expiry = store.next_lease_expiry()
    assert expiry is not None and before + 20 <= expiry <= time.time() + 20
    store.request_cancel(attempt_id)
    assert store.next_lease_expiry() is None  # a canceled attempt's rows are never claimable


# -- notifications -----------------------------------------------------------------------------
def test_a_listener_wakes_on_a_notification_from_another_connection(store: Store, other: Store) -> None:
    listener = store.listen("queue")
    try:
        timer = threading.Timer(0.2, other.notify, args=("queue",))
        started = time.monotonic()
        timer.start()
        assert listener.wait(10)
        assert 0.15 < time.monotonic() - started < 5
        timer.join()
    finally:
        listener.close()


def test_wait_times_out_without_oversleeping(store: Store, other: Store) -> None:
    listener = store.listen("queue")
    try:
        other.notify("elsewhere")  # another channel
        started = time.monotonic()
        assert not listener.wait(0.3)
        assert 0.29 <= time.monotonic() - started < 3
        started = time.monotonic()
        assert not listener.wait(0)
        assert time.monotonic() - started < 2
    finally:
        listener.close()


def test_notifications_before_wait_are_kept_and_coalesce(store: Store, other: Store) -> None:
    listener = store.listen("queue", "cancel")
    try:
        for _ in range(5):
            other.notify("queue")
        other.notify("cancel")
        time.sleep(0.1)
        assert listener.wait(5)
        assert not listener.wait(0.1)  # all six were one wake-up
        other.notify("cancel")
        assert listener.wait(5)
    finally:
        listener.close()


def test_queue_operations_notify(store: Store, other: Store) -> None:
    attempt_id = new_attempt(store)
    queue = other.listen("queue")
    done = other.listen(f"attempt_{attempt_id}")
    try:
        queue_id = store.enqueue(attempt_id, "+wf+a", {})
        assert queue.wait(5)
        assert not done.wait(0)
        assert store.claim("w", 30) is not None
        assert store.complete(queue_id, "w", {})
        assert done.wait(5)
    finally:
        queue.close()
        done.close()


def test_bad_channel_names_are_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        store.listen("no spaces")
    with pytest.raises(ValueError):
        store.notify("x" * 40)


# -- open_store --------------------------------------------------------------------------------
def test_a_plain_path_is_sqlite_and_its_folders_are_made(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "state.db"
    store = open_store(str(path))
    try:
        assert store.url == f"sqlite://{path}"
        assert path.exists()
    finally:
        store.close()
    store = open_store(store.url)  # the normalised URL opens the same file
    store.close()


@pytest.mark.parametrize("bad", ["mysql://localhost/db", "redis://x", "", "sqlite://relative.db",
                                 "postgresql:nohost"])
def test_unknown_urls_are_refused(bad: str) -> None:
    with pytest.raises(UserInputError) as info:
        open_store(bad)
    assert "sqlite:///abs/path.db" in str(info.value) or "absolute path" in str(info.value)
    if bad:
        assert repr(bad) in str(info.value)


def test_a_postgres_nobody_serves_is_a_clear_error() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nobody listens here once closed
    with pytest.raises(UserInputError) as info:
        open_store(f"postgresql://someone:secret@127.0.0.1:{port}/db")
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message and "secret" not in message


def test_a_missing_postgres_database_is_a_clear_error(pg_server: object) -> None:
    url = pg_server.database_url("no_such_db")  # type: ignore[attr-defined]
    with pytest.raises(DockerflowError) as info:
        open_store(url)
    assert "no_such_db" in str(info.value)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(UserInputError) as info:
        open_store(str(path))
    assert str(path) in str(info.value)


def test_ten_thousand_tasks_saved_in_batches_keep_their_latest_state(store: Store) -> None:
    """A run of 10,000 trivial tasks saves each task a few times and its result once; the
    buffer (flushed at FLUSH_ENTRIES) keeps the latest save of each. Its cost is measured by
    bench/local_scale.py, not here."""
    session = store.open_session("wf", T0, "u")
    attempt_id = store.start_attempt(session.id)
    for i in range(10_000):
        name = f"+wf+t{i}"
        store.save_task(TaskRecord(attempt_id, name, "ready"))
        store.save_task(TaskRecord(attempt_id, name, "running", started_at=1.0))
        store.save_task(TaskRecord(attempt_id, name, "success", started_at=1.0, finished_at=2.0,
                                   result={"store": {}, "export": {}}))
        store.save_result(session.id, name, {"state": "success", "store": {}})
    store.flush()
    records = store.tasks(attempt_id)
    assert len(records) == 10_000
    assert {r.state for r in records} == {"success"}
    assert records[0].name == "+wf+t0" and records[-1].name == "+wf+t9999"
    assert len(store.results(session.id)) == 10_000


# -- coordinator leases ---------------------------------------------------------------------
def test_an_attempt_lease_is_held_renewed_and_taken_over_once_expired(store: Store, other: Store) -> None:
    attempt_id = new_attempt(store)
    assert store.claim_orphaned_attempt("b", 30) is None  # never leased: never an orphan
    assert store.lease_attempt(attempt_id, "a", 30)
    assert store.lease_attempt(attempt_id, "a", 30)  # renewed
    assert not other.lease_attempt(attempt_id, "b", 30)  # someone else's
    assert other.claim_orphaned_attempt("b", 30) is None
    assert store.lease_attempt(attempt_id, "a", -1)  # expires at once
    assert other.claim_orphaned_attempt("b", 30) == attempt_id
    assert other.claim_orphaned_attempt("c", 30) is None  # taken once
    assert not store.lease_attempt(attempt_id, "a", 30)  # "a" lost it
    other.release_attempt(attempt_id, "b")  # a stopping server: the attempt is free at once
    assert store.claim_orphaned_attempt("a", 30) == attempt_id


def test_finished_attempts_are_not_orphans(store: Store) -> None:
    attempt_id = new_attempt(store)
    store.lease_attempt(attempt_id, "a", -1)
    store.finish_attempt(attempt_id, AttemptStatus.SUCCESS)
    assert store.claim_orphaned_attempt("b", 30) is None


def test_drop_queued_removes_every_row_of_the_attempt(store: Store) -> None:
    attempt_id = new_attempt(store)
    kept = new_attempt(store)
    store.enqueue(attempt_id, "+wf+a", {})
    store.enqueue(attempt_id, "+wf+b", {})
    store.enqueue(kept, "+wf+c", {})
    claim = store.claim("w", 30)
    assert claim is not None and store.complete(claim.queue_id, "w", {"done": True})
    assert store.drop_queued(attempt_id) == 2
    assert store.take_outcomes(attempt_id) == [] and store.queued(attempt_id) == 0
    assert store.queued(kept) == 1


def test_requests_of_an_attempt_waiting_for_a_new_coordinator_are_not_claimed(store: Store) -> None:
    attempt_id = new_attempt(store)
    store.lease_attempt(attempt_id, "server-a", 30)
    store.enqueue(attempt_id, "+wf+a", {})
    claim = store.claim("w1", -1)  # w1 dies at once: its lease is over
    assert claim is not None
    store.lease_attempt(attempt_id, "server-a", -1)  # ...and so is its coordinator's
    assert store.claim("w2", 30) is None  # the new coordinator will start it over
    assert store.next_lease_expiry() is None
    assert store.claim_orphaned_attempt("server-b", 30) == attempt_id
    assert store.claim("w2", 30) is not None  # its coordinator lives again
