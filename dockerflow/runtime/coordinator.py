"""One attempt's loop: the scheduler decides, a task queue runs, the store records.

    Coordinator.run()
      scheduler.start()
      loop until the root is done:
        _dispatch()         ready tasks: replay saved results, or render `${...}` and submit
                            a TaskRequest to the queue (inline operators come back at once)
        _wait()             block on the queue (outcomes, Ctrl-C) until the next retry or poll
          _handle()         -> scheduler.succeed() / fail(); records saved in batches
        _due_polls()        wait> tasks whose time came are submitted again
        scheduler.wake()    retries that are due
      summary

One thread (the caller's) owns the scheduler and writes every transition through the store.
The coordinator knows no executor: whatever runs a request (a thread pool in this process,
`dockerflow worker` processes claiming it from a database) is behind TaskQueue. require>
attempts are started through an AttemptLauncher; wait> tasks come back as "poll again at T"
and hold no worker meanwhile.
"""

from __future__ import annotations

import dataclasses
import heapq
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from dockerflow.dig.compile import Compiler
from dockerflow.dig.operator_options import OPERATOR_NAMES
from dockerflow.dig.workflow import sla_deadline
from dockerflow.errors import DigError, DockerflowError
from dockerflow.expr import Evaluator
from dockerflow.graph.scheduler import Scheduler
from dockerflow.graph.spec import TaskSpec, Workflow
from dockerflow.graph.states import TaskState
from dockerflow.graph.task import Task, TaskResult
from dockerflow.runtime.params import SessionInfo, visible_params
from dockerflow.runtime.render import render_retry, render_task
from dockerflow.runtime.reporter import Reporter
from dockerflow.runtime.requests import (
    ErrorReason,
    OutcomeKind,
    RequireCall,
    TaskError,
    TaskOutcome,
    TaskQueue,
    TaskRequest,
)
from dockerflow.runtime.selection import Mode, Selection
from dockerflow.store.base import Store, TaskRecord
from dockerflow.timeutil import iso_offset, parse_zone

DRAIN_GRACE = 15.0  # seconds a stopped attempt waits for its running tasks to end


@dataclass
class RunOptions:
    selection: Selection = field(default_factory=Selection)
    dry_run: bool = False
    max_task_threads: int = 32
    max_tasks: int = 100_000
    progress_interval: float = 60.0  # how often long-running tasks are listed as still running
    cache: bool = True  # False (--no-cache): `_cache` never hits (entries are still refreshed)
    failure_alert: bool = False  # a failed attempt gets `^failure-alert` (a server with a notifier)
    notification: dict[str, Any] = field(default_factory=dict)  # notify>'s context (project...)


@dataclass
class RunSummary:
    success: bool
    ran: int
    skipped: int
    failed: list[tuple[str, str]]
    seconds: float
    interrupted: int | None = None  # the signal number, when stopped by one
    killed: bool = False  # stopped by a kill request another process wrote to the store
    detached: bool = False  # stopped coordinating without ending the attempt (detach())
    engine_reruns: int = 0  # tasks run again because the Docker engine restarted under them
    engine_unavailable: list[str] = field(default_factory=list)  # failed: the engine did not answer
    images: dict[str, str] = field(default_factory=dict)  # image name -> id that tasks ran in


class AttemptLauncher(Protocol):
    """Starts (or finds) the attempt a require> task waits for, and calls `done(succeeded,
    session_id, attempt_id)` when it has ended (from any thread); `interrupt(signum)` stops
    the attempts it started (0: the parent was killed through the store)."""

    def launch(self, call: RequireCall, parent: Coordinator, done: Any) -> None: ...

    def interrupt(self, signum: int) -> None: ...


class Coordinator:
    def __init__(self, workflow: Workflow, project_dir: Path, session: SessionInfo,
                 attempt_params: Mapping[str, Any], store: Store, queue: TaskQueue,
                 reporter: Reporter, options: RunOptions | None = None,
                 launcher: AttemptLauncher | None = None, io_root: Path | None = None,
                 requiring: tuple[str, ...] = (), archive: str | None = None) -> None:
        self.workflow = workflow
        self.project_dir = project_dir
        self.session = session
        self.attempt_id = session.attempt_id
        self.session_id = session.session_id
        self.attempt_params = dict(attempt_params)
        if workflow.workdir:  # a workflow in a subfolder runs there, like a call> of it
            self.attempt_params["_workdir"] = workflow.workdir
        self.store = store
        self.queue = queue
        self.reporter = reporter
        self.options = options or RunOptions()
        self.launcher = launcher
        self.io_root = io_root or project_dir / ".dockerflow" / "io"
        self.requiring = requiring  # workflow@session of this attempt and those requiring it
        self.archive = archive
        self.notification = {"workflow_name": workflow.name, **self.options.notification}
        alert = _notify_spec("^failure-alert", "Workflow session attempt failed",
                             self.notification) if self.options.failure_alert else None
        self.sched = Scheduler(workflow.root, max_tasks=self.options.max_tasks, failure_alert=alert)
        self.sla_due: float | None = None  # wall time the SLA breaks at, until it fired
        self.canceled = threading.Event()  # set on interrupt, before tasks are stopped
        self.evaluator = Evaluator(workflow.timezone)
        self.labels = {"run": f"{workflow.name}@{iso_offset(session.session_time)}",
                       "session": str(self.session_id), "attempt": str(self.attempt_id)}
        self.saved: dict[str, dict[str, Any]] = {}
        self.tasks: dict[int, Task] = {}  # submitted, by id
        self.requests: dict[int, TaskRequest] = {}  # of tasks that poll (wait>)
        self.running: dict[str, float] = {}  # submitted and not back -> when (monotonic)
        self.started_at: dict[str, float] = {}  # first start (wall time), for the records
        self.polls: list[tuple[float, int]] = []  # (wall time, task id)
        self._next_progress = 0.0
        self.ran = 0
        self.skipped = 0
        self.interrupted: int | None = None
        self.killed = False
        self.detached = False
        self.engine_reruns = 0
        self.engine_unavailable: set[str] = set()
        self.images: dict[str, str] = {}
        self._images_saved: dict[str, str] = {}
        self._recorded: set[int] = set()  # tasks saved in a done state
        self._placed: set[int] = set()  # tasks whose place in the tree was saved

    # -- control -----------------------------------------------------------------------------
    def interrupt(self, signum: int) -> None:
        """Stop: from a signal handler (main thread) or another thread."""
        if self.interrupted is None:
            self.interrupted = signum
        self.canceled.set()
        if self.launcher is not None:
            self.launcher.interrupt(signum)
        threading.Thread(target=self.queue.cancel, args=(self.attempt_id,), daemon=True).start()
        self.queue.wake(self.attempt_id)

    def kill(self) -> None:
        """Stop because the attempt was killed through the store (`dockerflow kill`, the API):
        its tasks are already being stopped on every worker."""
        self.killed = True
        self.canceled.set()
        if self.launcher is not None:
            self.launcher.interrupt(0)
        self.queue.wake(self.attempt_id)

    def detach(self) -> None:
        """Stop coordinating, but leave the attempt running in the store (a server that
        stops): nothing is canceled; whoever takes the attempt over runs what had not
        finished again."""
        self.detached = True
        self.queue.wake(self.attempt_id)

    @property
    def stopping(self) -> bool:
        return self.interrupted is not None or self.killed or self.detached

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> RunSummary:
        started = time.monotonic()
        if self.options.selection.kind != "rerun":
            self.saved = self.store.results(self.session_id)
        else:
            self.store.clear_results(self.session_id)
        self.queue.open(self.attempt_id)
        if self.workflow.sla is not None:
            zone = parse_zone(self.workflow.timezone)
            self.sla_due = sla_deadline(self.workflow.sla, zone,
                                        datetime.now(timezone.utc)).timestamp()
        try:
            self.sched.start()
            while not self.sched.done and not self.stopping:
                self._dispatch()
                if self.sched.done:
                    break
                self._wait()
                if not self.stopping and self.queue.kill_requested(self.attempt_id):
                    self.kill()
                    break
                self._due_polls()
                self._check_sla()
                self.sched.wake()
            if self.stopping and not self.detached:
                self._drain(DRAIN_GRACE)
                self.sched.cancel()
        finally:
            self.queue.close(self.attempt_id)
            self._save_images()
            self._record_all()
            self.store.flush()
        return RunSummary(success=self.sched.success, ran=self.ran, skipped=self.skipped,
                          failed=self._failures(), seconds=time.monotonic() - started,
                          interrupted=self.interrupted, killed=self.killed,
                          detached=self.detached, engine_reruns=self.engine_reruns,
                          engine_unavailable=sorted(self.engine_unavailable),
                          images=dict(self.images))

    def _check_sla(self) -> None:
        """The SLA's time has come with the attempt still running: its tasks start, once."""
        if self.sla_due is None or time.time() < self.sla_due or self.sched.done:
            return
        self.sla_due = None
        sla = self.workflow.sla or {}
        specs = []
        if sla.get("alert", True):
            specs.append((_notify_spec("^sla^alert", "SLA violation", self.notification), "^sla^alert"))
        if sla.get("fail", False):
            specs.append((TaskSpec("^sla^fail", op="fail", config={"_command": "SLA violation"}),
                          "^sla^fail"))
        if self.workflow.sla_tasks is not None:
            specs.append((self.workflow.sla_tasks, "^sla"))
        self.reporter.info(f"SLA of {self.workflow.name} broken: the attempt still runs")
        self.sched.add_to_root(specs)

    def _wait(self) -> None:
        timeout = self.sched.next_wakeup()
        if self.sla_due is not None:
            until_sla = max(0.0, self.sla_due - time.time())
            timeout = until_sla if timeout is None else min(timeout, until_sla)
        if self.polls:
            until_poll = max(0.0, self.polls[0][0] - time.time())
            timeout = until_poll if timeout is None else min(timeout, until_poll)
        if not self.running and timeout is None and not self.sched.ready:
            raise RuntimeError("scheduler stalled: nothing running, ready or waiting")
        if self.running:
            until_progress = max(0.0, self._next_progress - time.monotonic())
            timeout = until_progress if timeout is None else min(timeout, until_progress)
        outcomes = self.queue.wait(self.attempt_id, 0)
        if not outcomes:
            # About to block: make finished work durable first, so that even a kill -9
            # during a long task keeps what succeeded before it.
            self._save_images()
            self.store.flush()
            outcomes = self.queue.wait(self.attempt_id, timeout)
        for out in outcomes:
            self._handle(out)
        self._progress()

    def _progress(self) -> None:
        """Every `progress_interval`, name the tasks that have been running that long."""
        now = time.monotonic()
        if now < self._next_progress:
            return
        self._next_progress = now + self.options.progress_interval
        long = [(name, now - since) for name, since in self.running.items()
                if now - since >= self.options.progress_interval]
        if long:
            self.reporter.info("still running: " + ", ".join(
                f"{name} ({_duration(seconds)})" for name, seconds in sorted(long)))

    def _drain(self, grace: float) -> None:
        """Stopped: take the outcomes of the tasks still running (their commands are being
        stopped), at most `grace` seconds; what succeeded meanwhile is kept."""
        deadline = time.monotonic() + grace
        while self.running and time.monotonic() < deadline:
            outcomes = self.queue.wait(self.attempt_id, max(0.0, deadline - time.monotonic()))
            for out in outcomes:
                task = self.tasks.pop(out.task_id, None)
                if task is None:
                    continue
                self.running.pop(task.full_name, None)
                self.ran -= 0 if out.started else 1
                if out.kind is OutcomeKind.SUCCESS and task.state is TaskState.RUNNING:
                    self._save(task, TaskResult.from_record(out.result or {}))
            if not outcomes and self.queue.pending(self.attempt_id) == 0:
                break  # nothing will come back: the rest were never claimed

    def _dispatch(self) -> None:
        while self.sched.ready:
            for task in self.sched.pop_ready():
                mode = self.options.selection.mode(task)
                record = self.saved.get(task.full_name) if mode in (
                    Mode.RESUME, Mode.SKIP_OR_REPLAY) else None
                if record is not None or mode in (Mode.SKIP, Mode.SKIP_OR_REPLAY):
                    self._replay(task, record)
                    continue
                if self.options.dry_run:
                    self.reporter.task_skipped(task.full_name, "dry run")
                    self.skipped += 1
                    self.sched.succeed(task, TaskResult())
                    continue
                self.sched.mark_running(task)
                self.ran += 1
                self._submit(task)

    def _submit(self, task: Task, poll_state: dict[str, Any] | None = None) -> None:
        name = task.full_name
        self.started_at.setdefault(name, time.time())
        request = self._request(task, poll_state)
        if request is None:
            return
        self.tasks[task.id] = task
        done = self.queue.submit(request)
        if done is not None:  # an inline operator: recorded with the others at the end
            self._handle(done, inline=True)
            return
        self.requests[task.id] = request
        self.running[name] = time.monotonic()
        self._record(task)

    def _request(self, task: Task, poll_state: dict[str, Any] | None) -> TaskRequest | None:
        """The task's request with its `${...}` evaluated; None when evaluating failed (the
        task failed then)."""
        if poll_state is not None:
            return dataclasses.replace(self.requests[task.id], poll_state=poll_state)
        raw = visible_params(task, self.attempt_params)
        error = task.parent.error if task.name == "^error" and task.parent else None
        try:
            params, config = render_task(self.evaluator, task.spec.config, raw,
                                         self.session.builtins(task.full_name), error)
            retry = render_retry(self.evaluator, task.full_name, task.spec.retry, params)
        except DockerflowError as e:
            self.tasks[task.id] = task
            self._handle(_failed(self, task, TaskError(str(e))))
            return None
        if retry is not None:
            self.sched.set_retry(task, retry)
        op = task.spec.op if task.spec.op in OPERATOR_NAMES else config.get("_type")
        return TaskRequest(self.attempt_id, task.id, task.full_name, str(op), config, params,
                           str(self.project_dir), str(self.io_root), self.workflow.name,
                           labels=self.labels, max_tasks=self.options.max_tasks,
                           cache=self.options.cache, archive=self.archive,
                           project_id=self.session.project_id)

    def _replay(self, task: Task, record: dict[str, Any] | None) -> None:
        self.skipped += 1
        if record is None:
            self.reporter.task_skipped(task.full_name, "outside the selected tasks")
            self.sched.succeed(task, TaskResult())
            return
        self.reporter.task_skipped(task.full_name, "succeeded before")
        result = TaskResult.from_record(record)
        try:
            if result.subtask_config is not None:
                result.sub_spec = self._compile_sub(task, result.subtask_config)
        except DigError as e:
            self.sched.fail(task, {"message": str(e)}, retryable=False)
            return
        self.sched.succeed(task, result)

    def _handle(self, out: TaskOutcome, inline: bool = False) -> None:
        task = self.tasks.get(out.task_id)
        if task is None or task.state is not TaskState.RUNNING:
            return  # a late or repeated delivery (at-least-once): the first one counted
        name = task.full_name
        self.running.pop(name, None)
        self.engine_reruns += out.engine_reruns
        if out.images:
            self.images.update(out.images)
        if out.kind is OutcomeKind.POLL:
            heapq.heappush(self.polls, (out.poll_at or time.time(), task.id))
            self.requests[task.id] = dataclasses.replace(self.requests[task.id],
                                                         poll_state=out.poll_state)
            return
        if out.kind is OutcomeKind.REQUIRE and out.require is not None:
            self._require(task, out.require)
            return
        del self.tasks[task.id]
        self.requests.pop(task.id, None)
        self.reporter.task_finished(name)
        if out.error is None or out.error.reason is not ErrorReason.ENGINE_UNAVAILABLE:
            self.engine_unavailable.discard(name)  # a retry that got further
        if out.kind is OutcomeKind.SUCCESS:
            result = TaskResult.from_record(out.result or {})
            if result.subtask_config is not None:
                try:
                    result.sub_spec = self._compile_sub(task, result.subtask_config)
                except DigError as e:
                    self._fail(task, TaskError(str(e)), out.retryable)
                    return
            self._save(task, result)
            self.sched.succeed(task, result)
            self.reporter.task_succeeded(name)
            if not inline:
                self._record(task, result=result.to_record())
            return
        error = out.error or TaskError("failed")
        if error.reason is ErrorReason.ENGINE_UNAVAILABLE:
            self.engine_unavailable.add(name)
        self._fail(task, error, out.retryable)

    def _fail(self, task: Task, error: TaskError, retryable: bool) -> None:
        self.sched.fail(task, error.as_param(), retryable=retryable)
        if task.state is TaskState.RETRY_WAITING and task.retry is not None:
            self.reporter.task_retrying(task.full_name, error.message, task.retry_count,
                                        task.retry.limit,
                                        max(0.0, task.retry_at - self.sched.clock()))
        else:
            self.reporter.task_failed(task.full_name, error.message)
        self._record(task)

    def _require(self, task: Task, call: RequireCall) -> None:
        """require>: the launcher runs (or finds) the attempt; the task ends with it."""
        name = task.full_name
        if self.launcher is None:
            self._handle(_failed(self, task, TaskError("require> is not available here")))
            return
        self.running[name] = time.monotonic()

        def done(ok: bool, session_id: int, attempt_id: int) -> None:
            self.reporter.task_output(name, f"required {call.workflow}: session {session_id},"
                                            f" attempt {attempt_id}, {'success' if ok else 'failed'}")
            if ok or call.ignore_failure:
                out = TaskOutcome(self.attempt_id, task.id, name, OutcomeKind.SUCCESS, result={})
            else:
                out = _failed(self, task, TaskError(f"Dependent workflow failed. Session id:"
                                                    f" {session_id}, attempt id: {attempt_id}"))
            self.queue.post(out)

        try:
            self.launcher.launch(call, self, done)
        except DockerflowError as e:  # comes back through the queue, like every outcome
            self.queue.post(_failed(self, task, TaskError(str(e))))

    def _due_polls(self) -> None:
        now = time.time()
        while self.polls and self.polls[0][0] <= now:
            _, tid = heapq.heappop(self.polls)
            task = self.tasks.get(tid)
            if task is not None and task.state is TaskState.RUNNING:
                self._submit(task, self.requests[tid].poll_state or {})

    def _compile_sub(self, task: Task, config: dict[str, Any]) -> Any:
        compiler = Compiler(OPERATOR_NAMES, context=task.full_name)
        return compiler.compile_task("^sub", config)

    # -- records -----------------------------------------------------------------------------
    def _save(self, task: Task, result: TaskResult) -> None:
        self.store.save_result(self.session_id, task.full_name, result.to_record())

    def _record(self, task: Task, result: dict[str, Any] | None = None) -> None:
        """The task's state as it is now, for the store (written in the next batch)."""
        retry_at = None
        if task.state in (TaskState.RETRY_WAITING, TaskState.GROUP_RETRY_WAITING):
            retry_at = time.time() + max(0.0, task.retry_at - self.sched.clock())
        done = task.state.done
        if done:
            self._recorded.add(task.id)
        first = task.id not in self._placed
        if first:
            self._placed.add(task.id)
        self.store.save_task(TaskRecord(
            self.attempt_id, task.full_name, task.state.value, task.retry_count, retry_at,
            self.started_at.get(task.full_name), time.time() if done else None,
            result, task.error,
            task_id=task.id if first else None,
            parent_id=task.parent.id if first and task.parent is not None else None,
            is_group=task.is_group if first else None,
            config=_own_config(task) if first else None,
            upstreams=tuple(u.id for u in task.upstreams) if first else None))

    def _record_all(self) -> None:
        """At the end: every task of the tree (groups too) with its final state."""
        stack = [self.sched.root]
        recorded = self._recorded
        while stack:
            t = stack.pop()
            if t.id not in recorded:
                self._record(t, t.store or None)
            stack.extend(t.children)

    def _save_images(self) -> None:
        new = {k: v for k, v in self.images.items() if self._images_saved.get(k) != v}
        if new:
            self.store.record_images(self.attempt_id, new)
            self._images_saved.update(new)

    def _failures(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        stack = [self.sched.root]
        while stack:
            t = stack.pop()
            if not t.is_group and t.state is TaskState.ERROR and t.error \
                    and not any(c.state.failed for c in t.children if c.name != "^error"):
                out.append((t.full_name, str(t.error.get("message"))))
            stack.extend(reversed(t.children))
        return out


def _own_config(task: Task) -> dict[str, Any]:
    """A task's own keys as Digdag's API shows them: its config, plus `_export` when set."""
    config = dict(task.spec.config)
    if task.spec.export:
        config["_export"] = task.spec.export
    return config


def _failed(coord: Coordinator, task: Task, error: TaskError) -> TaskOutcome:
    return TaskOutcome(coord.attempt_id, task.id, task.full_name, OutcomeKind.FAILED, error=error)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _notify_spec(name: str, message: str, context: Mapping[str, Any]) -> TaskSpec:
    """A generated notify> task (the failure alert, the SLA's alert)."""
    return TaskSpec(name, op="notify", config={"_command": message, "_notification": dict(context)})
