"""Local mode: `dockerflow run` wired from the same parts as every other front end.

    LocalEngine(project, store, reporter, options, docker_factory, secrets, queue=None)
      worker     TaskWorker: the host executor, the Docker one made on first use
      queue      InProcessQueue (a thread pool) | a StoreQueue given by `run --database`
      launcher   LocalLauncher: require> runs the other workflow's attempt beside this one
      start(workflow, session_time, params) -> LocalAttempt
    LocalAttempt.run() -> RunSummary      always finishes the attempt in the store

State lives in `<project>/.dockerflow/`: state.db (store/), logs/ (runtime/logs.py), io/.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from dockerflow.dig.workflow import load_workflow
from dockerflow.errors import TaskFailure
from dockerflow.executors.base import Executor
from dockerflow.executors.host import HostExecutor
from dockerflow.graph.spec import Workflow
from dockerflow.runtime.coordinator import Coordinator, RunOptions, RunSummary
from dockerflow.runtime.logs import FileLogStore
from dockerflow.runtime.params import SessionInfo
from dockerflow.runtime.queue import InProcessQueue
from dockerflow.runtime.reporter import Reporter
from dockerflow.runtime.requests import RequireCall, TaskQueue, TaskRequest
from dockerflow.runtime.selection import Selection
from dockerflow.runtime.worker import TaskWorker
from dockerflow.store import open_store
from dockerflow.store.base import AttemptStatus, SessionRecord, Store
from dockerflow.timeutil import iso_offset, parse_session_time, parse_zone


def state_dir(project: Path) -> Path:
    return project / ".dockerflow"


def local_store(project: Path) -> Store:
    """The project's own state database, `.dockerflow/state.db`."""
    return open_store(str(state_dir(project) / "state.db"))


class LocalEvents:
    """What the worker reports goes to the terminal (the reporter) and to the log files."""

    def __init__(self, reporter: Reporter, logs: FileLogStore) -> None:
        self.reporter = reporter
        self.logs = logs

    def task_started(self, request: TaskRequest) -> None:
        self.reporter.task_started(request.task_name)

    def task_cached(self, request: TaskRequest) -> None:
        self.reporter.task_cached(request.task_name)

    def task_output(self, request: TaskRequest, line: str, log: bool) -> None:
        self.reporter.task_output(request.task_name, line)
        if log:
            self.logs.append(request.attempt_id, request.task_name, line)

    def task_ended(self, request: TaskRequest) -> None:
        self.logs.end_task(request.attempt_id, request.task_name)

    def info(self, text: str) -> None:
        self.reporter.info(text)


@dataclass
class LocalAttempt:
    coordinator: Coordinator
    store: Store
    session_id: int
    attempt_id: int
    engine: LocalEngine | None = None  # closed after the run when the attempt owns it

    def run(self) -> RunSummary:
        """Run the attempt; it is always finished in the store, even when the run breaks
        (but for a coordinator detached on purpose: another one carries the attempt on)."""
        status: AttemptStatus | None = AttemptStatus.ERROR
        try:
            summary = self.coordinator.run()
            status = None if summary.detached else AttemptStatus.SUCCESS if summary.success else \
                AttemptStatus.KILLED if summary.interrupted or summary.killed else AttemptStatus.ERROR
            return summary
        finally:
            if status is not None:
                self.store.finish_attempt(self.attempt_id, status)
            if self.engine is not None:
                self.engine.close()


class LocalEngine:
    """`worker`/`queue`: given by a front end that shares them between attempts (the server);
    by default the engine makes its own and closes them with itself. `project_id`: the
    server's project the sessions belong to (0: a local run's)."""

    def __init__(self, project: Path, store: Store, reporter: Reporter,
                 options: RunOptions | None = None,
                 docker_factory: Callable[[], Executor] | None = None,
                 secrets: Mapping[str, str] | None = None,
                 queue: Callable[[TaskWorker], TaskQueue] | None = None,
                 archive: str | None = None, worker: TaskWorker | None = None,
                 project_id: int = 0) -> None:
        self.project = project
        self.store = store
        self.reporter = reporter
        self.options = options or RunOptions()
        self.logs = FileLogStore()
        self._owns_worker = worker is None
        self.worker = worker or TaskWorker(LocalEvents(reporter, self.logs), HostExecutor(),
                                           docker_factory, secrets, param_store=store)
        self.queue: TaskQueue = queue(self.worker) if queue is not None else \
            InProcessQueue(self.worker, self.options.max_task_threads)
        self.archive = archive
        self.project_id = project_id

    def start(self, workflow: Workflow, session_time: datetime, attempt_params: Mapping[str, Any],
              options: RunOptions | None = None, requiring: tuple[str, ...] = ()) -> LocalAttempt:
        """Open (or reopen) the session and start a new attempt of it."""
        session = self.store.open_session(workflow.name, iso_offset(session_time),
                                          str(uuid.uuid4()), project_id=self.project_id)
        attempt_id = self.store.start_attempt(session.id, attempt_params)
        return self.attach(workflow, session, attempt_id, session_time, attempt_params, options,
                           requiring)

    def attach(self, workflow: Workflow, session: SessionRecord, attempt_id: int,
               session_time: datetime, attempt_params: Mapping[str, Any],
               options: RunOptions | None = None, requiring: tuple[str, ...] = (),
               retry_attempt_name: str = "") -> LocalAttempt:
        """The coordinator of an attempt already in the store (refused ones are finished)."""
        store = self.store
        try:
            info = SessionInfo(session_time, workflow.timezone, workflow.schedule,
                               session_id=session.id, attempt_id=attempt_id,
                               last_executed=store.last_executed_before(
                                   workflow.name, session_time, project_id=self.project_id),
                               session_uuid=session.uuid, retry_attempt_name=retry_attempt_name,
                               project_id=self.project_id)
            stamp = session_time.strftime("%Y%m%dT%H%M%S%z")
            self.logs.open_attempt(attempt_id, state_dir(self.project) / "logs" / workflow.name / stamp)
            key = f"{workflow.name}@{iso_offset(session_time)}"
            coordinator = Coordinator(
                workflow, self.project, info, attempt_params, store, self.queue, self.reporter,
                options or self.options, launcher=LocalLauncher(self),
                io_root=state_dir(self.project) / "io" / workflow.name / stamp,
                requiring=requiring + (key,), archive=self.archive)
        except BaseException:  # refused (too many tasks...): the attempt must not stay 'running'
            store.finish_attempt(attempt_id, AttemptStatus.REFUSED)
            raise
        return LocalAttempt(coordinator, store, session.id, attempt_id)

    def close(self) -> None:
        """The end of the run: warm containers go, log files are closed (a shared worker and
        queue are their owner's to close)."""
        if self._owns_worker:
            shutdown = getattr(self.queue, "shutdown", None)
            if shutdown is not None:
                shutdown(wait=True)
            self.worker.close()
        self.logs.close()


class LocalLauncher:
    """require> in local mode: run (or reuse) another workflow of the project for a session,
    in this process, through the same queue; the parent's task ends when it does."""

    def __init__(self, engine: LocalEngine) -> None:
        self.engine = engine
        self._children: list[Coordinator] = []
        self._lock = threading.Lock()
        self._interrupted: int | None = None

    def launch(self, call: RequireCall, parent: Coordinator,
               done: Callable[[bool, int, int], None]) -> None:
        engine = self.engine
        name = call.workflow
        path = engine.project / (name if name.endswith(".dig") else name + ".dig")
        if not path.is_file():
            raise TaskFailure(f"Dependent workflow does not exist: {name} (looked for {path})")
        workflow = load_workflow(path, engine.project)
        zone = parse_zone(workflow.timezone)
        when = parse_session_time(call.session_time, zone) if call.session_time \
            else parent.session.session_time.astimezone(zone)
        key = f"{workflow.name}@{iso_offset(when)}"
        if key in parent.requiring:
            raise TaskFailure("require> cycle: " + " -> ".join(parent.requiring + (key,)))
        store = engine.store
        session = store.open_session(workflow.name, iso_offset(when), str(uuid.uuid4()),
                                     project_id=engine.project_id)
        last = store.last_attempt(session.id)
        if last is not None and not (call.rerun_on == "all" or (
                call.rerun_on == "failed" and last.status is not AttemptStatus.SUCCESS)):
            done(last.status is AttemptStatus.SUCCESS, session.id, last.id)
            return
        opts = parent.options
        options = RunOptions(selection=Selection("rerun" if call.rerun_on == "all" else "all"),
                             max_task_threads=opts.max_task_threads, max_tasks=opts.max_tasks,
                             cache=opts.cache, progress_interval=opts.progress_interval)
        attempt = engine.start(workflow, when, call.params, options, requiring=parent.requiring)
        with self._lock:
            self._children.append(attempt.coordinator)
            if self._interrupted is not None:
                _stop(attempt.coordinator, self._interrupted)

        def run() -> None:
            ok = False
            try:
                ok = attempt.run().success
            finally:
                with self._lock:
                    self._children.remove(attempt.coordinator)
                done(ok, session.id, attempt.attempt_id)

        threading.Thread(target=run, name=f"require-{key}", daemon=True).start()

    def interrupt(self, signum: int) -> None:
        with self._lock:
            self._interrupted = signum
            children = list(self._children)
        for child in children:
            _stop(child, signum)


def _stop(child: Coordinator, signum: int) -> None:
    """Stop a require>d attempt as its parent was: by a signal, or (0) killed through the
    store, which then also asks the child's tasks to stop."""
    if signum:
        child.interrupt(signum)
    else:
        child.queue.cancel(child.attempt_id)
        child.kill()


def start_attempt(workflow: Workflow, project: Path, store: Store, session_time: datetime,
                  attempt_params: Mapping[str, Any], reporter: Reporter, options: RunOptions,
                  docker_factory: Callable[[], Executor] | None,
                  secrets: Mapping[str, str] | None = None) -> LocalAttempt:
    """One attempt with an engine of its own (closed when the attempt ends): for tests and
    embedding. `dockerflow run` builds a LocalEngine itself."""
    engine = LocalEngine(project, store, reporter, options, docker_factory, secrets)
    try:
        attempt = engine.start(workflow, session_time, attempt_params)
    except BaseException:
        engine.close()
        raise
    attempt.engine = engine
    return attempt
