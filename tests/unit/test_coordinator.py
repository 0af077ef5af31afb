"""The coordinator over a fake queue (no executor, no thread pool) and a real SQLite store;
the wire (requests and outcomes) as JSON; the worker's poll and require outcomes."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from dockerflow.dig.workflow import load_workflow
from dockerflow.executors.host import HostExecutor, host_env
from dockerflow.runtime.coordinator import Coordinator, RunOptions
from dockerflow.runtime.local import LocalEvents
from dockerflow.runtime.logs import FileLogStore
from dockerflow.runtime.params import SessionInfo
from dockerflow.runtime.reporter import Reporter
from dockerflow.runtime.requests import (
    ErrorReason,
    OutcomeKind,
    RequireCall,
    TaskError,
    TaskOutcome,
    TaskRequest,
)
from dockerflow.runtime.worker import TaskWorker
from dockerflow.store import open_store
from dockerflow.store.base import Store

T0 = datetime(2024, 3, 5, tzinfo=timezone.utc)


class FakeQueue:
    """Answers each request with `answer(request)` (None: it stays out until `deliver`)."""

    def __init__(self, answer: Callable[[TaskRequest], TaskOutcome | None]) -> None:
        self.answer = answer
        self.submitted: list[TaskRequest] = []
        self.later: list[TaskOutcome] = []
        self.canceled: list[int] = []
        self.cond = threading.Condition()

    def open(self, attempt_id: int) -> None: ...

    def close(self, attempt_id: int) -> None: ...

    def submit(self, request: TaskRequest) -> TaskOutcome | None:
        self.submitted.append(request)
        out = self.answer(request)
        if out is not None:
            self.post(out)
        return None

    def post(self, outcome: TaskOutcome) -> None:
        with self.cond:
            self.later.append(outcome)
            self.cond.notify_all()

    def wait(self, attempt_id: int, timeout: float | None) -> list[TaskOutcome]:
        with self.cond:
            if not self.later and timeout != 0:
                self.cond.wait(timeout)
            out, self.later = self.later, []
            return out

    def wake(self, attempt_id: int) -> None:
        with self.cond:
            self.cond.notify_all()

    def cancel(self, attempt_id: int) -> None:
        self.canceled.append(attempt_id)

    def pending(self, attempt_id: int) -> int | None:
        return None

    def kill_requested(self, attempt_id: int) -> bool:
        return self.killed

    killed = False


def ok(request: TaskRequest, **extra: Any) -> TaskOutcome:
    return TaskOutcome(request.attempt_id, request.task_id, request.task_name,
                       OutcomeKind.SUCCESS, result=extra.get("result", {}))


def coordinator(tmp_path: Path, text: str, queue: FakeQueue, launcher: Any = None,
                store: Store | None = None) -> tuple[Coordinator, Store]:
    (tmp_path / "wf.dig").write_text(text)
    workflow = load_workflow(tmp_path / "wf.dig", tmp_path)
    store = store or open_store(str(tmp_path / "state.db"))
    session = store.open_session("wf", "2024-03-05T00:00:00+00:00", "u")
    attempt = store.start_attempt(session.id)
    info = SessionInfo(T0, "UTC", None, session_id=session.id, attempt_id=attempt)
    reporter = Reporter(out=io.StringIO(), err=io.StringIO())
    return Coordinator(workflow, tmp_path, info, {}, store, queue, reporter, RunOptions(),
                       launcher=launcher), store


def test_requests_and_outcomes_survive_json() -> None:
    request = TaskRequest(3, 7, "+wf+a", "sh", {"_command": "echo ${x}"}, {"x": 1, "n": [1, 2]},
                          "/p", "/p/.dockerflow/io", "wf", labels={"attempt": "3"},
                          poll_state={"until": 5.0}, archive="ab" * 32)
    assert TaskRequest.from_json(json.loads(json.dumps(request.to_json()))) == request
    outcomes = [
        TaskOutcome(3, 7, "+wf+a", OutcomeKind.SUCCESS, result={"store": {"k": "v"}},
                    images={"i:1": "sha256:1"}, engine_reruns=1, cached=True),
        TaskOutcome.failed(request, TaskError("OOM", ErrorReason.OOM, 137), retryable=False),
        TaskOutcome(3, 7, "+wf+a", OutcomeKind.POLL, poll_at=12.5, poll_state={"until": 12.5}),
        TaskOutcome(3, 7, "+wf+a", OutcomeKind.REQUIRE,
                    require=RequireCall("other", None, {"p": 1}, "failed", True)),
    ]
    for out in outcomes:
        assert TaskOutcome.from_json(json.loads(json.dumps(out.to_json()))) == out


def test_requests_arrive_rendered_and_every_task_is_recorded(tmp_path: Path) -> None:
    queue = FakeQueue(lambda r: ok(r, result={"store": {"n": 2}} if r.task_name.endswith("a") else {}))
    coord, store = coordinator(tmp_path, "+a:\n  sh>: first\n+g:\n  +b:\n    sh>: n is ${n}\n", queue)
    summary = coord.run()
    assert summary.success
    assert [r.config["_command"] for r in queue.submitted] == ["first", "n is 2"]
    assert queue.submitted[1].labels["attempt"] == str(coord.attempt_id)
    records = {r.name: r.state for r in store.tasks(coord.attempt_id)}
    assert records == {"+wf": "success", "+wf+a": "success", "+wf+g": "success", "+wf+g+b": "success"}
    store.close()


def test_a_late_second_delivery_of_an_outcome_is_ignored(tmp_path: Path) -> None:
    """At-least-once: a task whose worker was presumed dead may report twice."""
    def answer(request: TaskRequest) -> TaskOutcome:
        queue.post(ok(request))  # the first delivery...
        return TaskOutcome.failed(request, TaskError("late failure"))  # ...and a late one

    queue = FakeQueue(answer)
    coord, store = coordinator(tmp_path, "+a:\n  sh>: x\n+b:\n  sh>: y\n", queue)
    summary = coord.run()
    assert summary.success and summary.failed == []
    store.close()


def test_poll_outcomes_come_back_at_their_time_with_their_state(tmp_path: Path) -> None:
    seen: list[tuple[float, Any]] = []

    def answer(request: TaskRequest) -> TaskOutcome:
        seen.append((time.time(), request.poll_state))
        if request.poll_state is None:
            return TaskOutcome(request.attempt_id, request.task_id, request.task_name,
                               OutcomeKind.POLL, poll_at=time.time() + 0.3, poll_state={"n": 1})
        return ok(request)

    queue = FakeQueue(answer)
    coord, store = coordinator(tmp_path, "+w:\n  wait>: 1s\n", queue)
    assert coord.run().success
    assert [state for _, state in seen] == [None, {"n": 1}]
    assert seen[1][0] - seen[0][0] >= 0.29
    store.close()


def test_require_goes_through_the_launcher(tmp_path: Path) -> None:
    calls: list[RequireCall] = []

    class Launcher:
        def launch(self, call: RequireCall, parent: Coordinator, done: Any) -> None:
            calls.append(call)
            threading.Timer(0.05, done, args=(False, 9, 10)).start()

        def interrupt(self, signum: int) -> None: ...

    def answer(request: TaskRequest) -> TaskOutcome:
        return TaskOutcome(request.attempt_id, request.task_id, request.task_name,
                           OutcomeKind.REQUIRE, require=RequireCall("child", None, {}, "none"))

    coord, store = coordinator(tmp_path, "+r:\n  require>: child\n", FakeQueue(answer), Launcher())
    summary = coord.run()
    assert [c.workflow for c in calls] == ["child"]
    assert summary.failed == [("+wf+r", "Dependent workflow failed. Session id: 9, attempt id: 10")]
    store.close()


def test_interrupt_cancels_the_attempt_and_cancels_what_is_left(tmp_path: Path) -> None:
    queue = FakeQueue(lambda r: None)  # nothing ever comes back
    coord, store = coordinator(tmp_path, "+a:\n  sh>: sleep 100\n", queue)
    threading.Timer(0.2, coord.interrupt, args=(2,)).start()
    import dockerflow.runtime.coordinator as module

    grace, module.DRAIN_GRACE = module.DRAIN_GRACE, 0.2
    try:
        summary = coord.run()
    finally:
        module.DRAIN_GRACE = grace
    assert summary.interrupted == 2 and not summary.success
    time.sleep(0.05)  # queue.cancel runs in a thread
    assert queue.canceled == [coord.attempt_id]
    assert {r.name: r.state for r in store.tasks(coord.attempt_id)}["+wf+a"] == "canceled"
    store.close()


def test_a_kill_request_in_the_store_stops_the_attempt(tmp_path: Path) -> None:
    def answer(request: TaskRequest) -> TaskOutcome | None:
        if request.task_name.endswith("+a"):
            return ok(request)
        queue.killed = True  # another process killed the attempt while +b ran
        return TaskOutcome.failed(request, TaskError("canceled", ErrorReason.CANCELED))

    queue = FakeQueue(answer)
    coord, store = coordinator(tmp_path, "+a:\n  sh>: x\n+b:\n  sh>: y\n+c:\n  sh>: z\n", queue)
    summary = coord.run()
    assert summary.killed and summary.interrupted is None and not summary.success
    assert [r.task_name for r in queue.submitted] == ["+wf+a", "+wf+b"]  # +c never asked for
    states = {r.name: r.state for r in store.tasks(coord.attempt_id)}
    assert states["+wf+a"] == "success" and states["+wf+c"] == "canceled"
    store.close()


def _worker_request(op: str, command: Any, poll_state: dict[str, Any] | None = None) -> TaskRequest:
    return TaskRequest(1, 1, "+wf+t", op, {"_command": command}, {"timezone": "UTC"}, "/tmp",
                       "/tmp/io", "wf", poll_state=poll_state)


def test_wait_holds_no_worker_it_polls() -> None:
    worker = TaskWorker(LocalEvents(Reporter(out=io.StringIO(), err=io.StringIO()), FileLogStore()),
                        HostExecutor())
    first = worker.execute(_worker_request("wait", "2s"), threading.Event())
    assert first.kind is OutcomeKind.POLL and first.poll_at is not None
    assert 1.5 < first.poll_at - time.time() <= 2.0
    later = worker.execute(_worker_request("wait", "2s", {"until": time.time() - 1}), threading.Event())
    assert later.kind is OutcomeKind.SUCCESS


def test_require_names_the_attempt_it_needs() -> None:
    worker = TaskWorker(LocalEvents(Reporter(out=io.StringIO(), err=io.StringIO()), FileLogStore()),
                        HostExecutor())
    out = worker.execute(_worker_request("require", "other"), threading.Event())
    assert out.kind is OutcomeKind.REQUIRE and out.require == RequireCall("other", None, {}, "none")


@pytest.mark.parametrize("name", ["DOCKERFLOW_DATABASE", "DATABASE_URL", "AWS_SECRET_ACCESS_KEY", "TOKEN"])
def test_host_tasks_see_an_allow_list_of_the_environment(name: str) -> None:
    environ = {"PATH": "/bin", "HOME": "/root", "LC_ALL": "C", name: "secret"}
    assert host_env(environ) == {"PATH": "/bin", "HOME": "/root", "LC_ALL": "C"}
    assert host_env(environ, extra=[name])[name] == "secret"  # DOCKERFLOW_HOST_ENV=NAME


def test_a_workers_log_lines_reach_the_store_within_a_second(tmp_path: Path) -> None:
    from dockerflow.runtime.consumer import LOG_DELAY, StoreEvents

    store = open_store(str(tmp_path / "state.db"))
    try:
        attempt = store.start_attempt(store.open_session("wf", "2024-03-05T00:00:00+00:00", "u").id)
        events = StoreEvents(store)
        request = TaskRequest(attempt, 1, "+wf+t", "sh", {}, {}, "/p", "/p/io", "wf")
        events.task_output(request, "one", True)
        events.task_output(request, "two", True)
        assert store.task_log(attempt, "+wf+t") == []  # batched...
        deadline = time.monotonic() + LOG_DELAY + 5
        while store.task_log(attempt, "+wf+t") != ["one", "two"]:  # ...for about LOG_DELAY
            assert time.monotonic() < deadline
            time.sleep(0.05)
        events.task_output(request, "three", True)
        events.task_ended(request)  # the end of a task writes at once
        assert store.task_log(attempt, "+wf+t") == ["one", "two", "three"]
    finally:
        store.close()
