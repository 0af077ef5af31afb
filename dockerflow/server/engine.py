"""Attempts of the server, run by the engine core in the server's process.

    ServerEngine(store, url, work_root, workers=N, lease_seconds=30)
      start(definition, session_time, params, retry_name, resume) -> attempt id
          the session (per project, workflow name and second) and a unique attempt of it
          (AttemptExists when that retry name exists: the API's 409), then in a thread:
          the revision's archive unpacked into work_root/<attempt id>/ (removed when the
          attempt ends), the workflow loaded there and coordinated through the store
          (StoreQueue), its tasks claimed by this server's consumers (`workers`) or by
          `dockerflow worker` processes on the database
      close()

The same Coordinator, TaskWorker and Consumer as `dockerflow run --database`: no second copy
of the engine. Each attempt's coordinator holds a lease in the store, renewed every third of
it; a server that finds an attempt whose lease expired (its server died) takes it over: what
succeeded is replayed, the tasks in flight run again (at-least-once). A server that stops
leaves its attempts running and gives up their leases at once. Task output goes to the
store's task logs (the logs API reads them); kill is a cancel request written to the store,
which the attempt's coordinator and its workers obey.
"""

from __future__ import annotations

import io
import logging
import shutil
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from dockerflow.archive import unpack_archive
from dockerflow.dig.workflow import load_workflow
from dockerflow.errors import UserInputError
from dockerflow.runtime.consumer import LEASE_SECONDS, Consumer, StoreEvents, worker_name
from dockerflow.runtime.coordinator import Coordinator, RunOptions
from dockerflow.runtime.local import LocalEngine
from dockerflow.runtime.queue import StoreQueue
from dockerflow.runtime.reporter import Reporter
from dockerflow.runtime.selection import Selection, find_task
from dockerflow.runtime.worker import TaskWorker, WorkerEvents
from dockerflow.store import open_store
from dockerflow.store.base import AttemptStatus, ProjectRecord, SessionRecord, Store, WorkflowRecord
from dockerflow.timeutil import iso_offset, parse_zone

log = logging.getLogger("dockerflow.server")
CHAIN_POLL = 2.0  # seconds between two looks at the attempt a backfilled one waits for


class ServerEngine:
    def __init__(self, store: Store, url: str, work_root: Path, *,
                 make_worker: Callable[[WorkerEvents], TaskWorker], workers: int = 1,
                 max_task_threads: int = 32,
                 lease_seconds: float = LEASE_SECONDS, failure_alert: bool = False,
                 task_log: Path | None = None) -> None:
        """`failure_alert`: a failed attempt gets a `^failure-alert` task (the server has a
        notifier); `task_log`: the folder task logs are kept in (else the database)."""
        self.store = store
        self.url = url
        self.work_root = work_root
        self.max_task_threads = max_task_threads
        self.lease = lease_seconds
        self.failure_alert = failure_alert
        self.owner = worker_name()
        self.events = StoreEvents(store)
        # the composition root makes the worker and its executors: the server never imports them
        self.worker = make_worker(self.events)
        self.queue = StoreQueue(store, self.worker)
        self.reporter = Reporter(out=io.StringIO(), err=_LogStream(), quiet=True)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._running: dict[int, tuple[threading.Thread, Coordinator]] = {}
        self._consumers: list[tuple[threading.Thread, Store]] = []
        for _ in range(workers):
            consumer_store = open_store(url)
            if task_log is not None:
                consumer_store.keep_logs_in(task_log)
            consumer = Consumer(consumer_store, self.worker, max_threads=max_task_threads,
                                lease_seconds=lease_seconds)
            thread = threading.Thread(target=consumer.run, args=(self._stop,), daemon=True,
                                      name="server-consumer")
            thread.start()
            self._consumers.append((thread, consumer_store))
        self._beat = threading.Thread(target=self._heartbeat, daemon=True, name="server-leases")
        self._beat.start()

    # -- starting ------------------------------------------------------------------------------
    def start(self, definition: WorkflowRecord, project: ProjectRecord, session_time: datetime,
              params: Mapping[str, Any], retry_name: str | None = None,
              resume: Mapping[str, Any] | None = None) -> int:
        """Start an attempt (see the module docstring); AttemptExists for a duplicate."""
        store = self.store
        zone = parse_zone(definition.timezone)
        when = session_time.astimezone(zone)
        session = store.open_session(definition.name, iso_offset(when), str(uuid.uuid4()),
                                     project_id=project.id)
        attempt_id = store.start_attempt(session.id, params, retry_attempt_name=retry_name,
                                         workflow_id=definition.id, unique=True)
        store.lease_attempt(attempt_id, self.owner, self.lease)
        try:
            self._launch(attempt_id, definition, project, session, when, params, retry_name,
                         lambda root: _selection(root, resume, retry_name))
        except BaseException:
            store.finish_attempt(attempt_id, AttemptStatus.REFUSED)
            raise
        return attempt_id

    def backfill(self, definition: WorkflowRecord, times: list[datetime], name: str) -> list[int]:
        """Attempts named `name` of the sessions at `times` (oldest first), each waiting for
        the one before it; AttemptExists when one of them exists already."""
        project = self.store.project(definition.project_id)
        if project is None:
            raise UserInputError(f"the project of workflow {definition.name!r} is gone")
        zone = parse_zone(definition.timezone)
        started: list[int] = []
        for when in times:
            when = when.astimezone(zone)
            session = self.store.open_session(definition.name, iso_offset(when), str(uuid.uuid4()),
                                              project_id=project.id)
            after = started[-1] if started else None
            attempt_id = self.store.start_attempt(session.id, {}, retry_attempt_name=name,
                                                  workflow_id=definition.id, unique=True,
                                                  after_attempt_id=after)
            self.store.lease_attempt(attempt_id, self.owner, self.lease)
            started.append(attempt_id)
            try:
                self._launch(attempt_id, definition, project, session, when, {}, name,
                             lambda root: Selection("rerun"), after=after)
            except BaseException:
                self.store.finish_attempt(attempt_id, AttemptStatus.REFUSED)
                raise
        return started

    def _launch(self, attempt_id: int, definition: WorkflowRecord, project: ProjectRecord,
                session: SessionRecord, when: datetime, params: Mapping[str, Any],
                retry_name: str | None, selection: Callable[[Any], Selection],
                after: int | None = None) -> None:
        """The attempt's coordinator, in a thread of its own, over a fresh copy of its
        revision's project; `after`: an attempt it waits for first (a backfill's chain)."""
        store = self.store
        revision = store.revision(project.id, definition.revision)
        archive = store.get_archive(revision.archive_digest) if revision is not None else None
        if revision is None or archive is None:
            raise UserInputError(f"the archive of revision {definition.revision!r} of project"
                                 f" {project.name!r} is gone")
        work = self.work_root / str(attempt_id)
        shutil.rmtree(work, ignore_errors=True)  # a copy left by a server that died
        unpack_archive(archive, work)
        workflow = load_workflow(work / f"{definition.name}.dig", work)
        engine = LocalEngine(work, store, self.reporter,
                             RunOptions(selection=selection(workflow.root),
                                        max_task_threads=self.max_task_threads,
                                        failure_alert=self.failure_alert,
                                        notification={"project_name": project.name,
                                                      "revision": definition.revision,
                                                      "workflow_definition_id": definition.id}),
                             queue=lambda _worker: self.queue, archive=revision.archive_digest,
                             worker=self.worker, project_id=project.id)
        attempt = engine.attach(workflow, session, attempt_id, when, params,
                                retry_attempt_name=retry_name or "")

        def run() -> None:
            try:
                if after is not None and not self._wait_for(after, attempt_id):
                    return  # this server stops: another one carries the attempt on
                attempt.run()
            except Exception:  # noqa: BLE001 - the attempt is finished (error); say why
                log.exception("attempt %s failed", attempt_id)
            finally:
                engine.close()
                shutil.rmtree(work, ignore_errors=True)  # the attempt's copy of the project
                with self._lock:
                    self._running.pop(attempt_id, None)

        thread = threading.Thread(target=run, name=f"attempt-{attempt_id}", daemon=True)
        with self._lock:
            self._running[attempt_id] = (thread, attempt.coordinator)
        thread.start()

    def _wait_for(self, after: int, attempt_id: int) -> bool:
        """Until attempt `after` is done (True), or this server stops (False). A kill of the
        waiting attempt needs no wait: its coordinator then cancels every task at once."""
        listener = self.store.listen(f"attempt_{attempt_id}")
        try:
            while not self._stop.is_set():
                before = self.store.get_attempt(after)
                mine = self.store.get_attempt(attempt_id)
                if before is None or before.status.done or mine is None or mine.cancel_requested:
                    return True
                listener.wait(CHAIN_POLL)  # its own kill wakes it; the previous one is polled
            return False
        finally:
            listener.close()

    # -- leases and takeover -------------------------------------------------------------------
    def _heartbeat(self) -> None:
        """Renew the leases of this server's attempts every third of a lease, and take over
        the attempts of coordinators whose leases expired (a server that died)."""
        while True:
            self._take_over()
            if self._stop.wait(self.lease / 3):
                return
            with self._lock:
                mine = list(self._running)
            for attempt_id in mine:
                if not self.store.lease_attempt(attempt_id, self.owner, self.lease):
                    log.warning("attempt %s: another coordinator took it over", attempt_id)

    def _take_over(self) -> None:
        while not self._stop.is_set():
            attempt_id = self.store.claim_orphaned_attempt(self.owner, self.lease)
            if attempt_id is None:
                return
            try:
                self._resume(attempt_id)
            except Exception:  # noqa: BLE001 - it cannot go on: finished, and the log says why
                log.exception("attempt %s could not be taken over", attempt_id)
                self.store.finish_attempt(attempt_id, AttemptStatus.ERROR)

    def _resume(self, attempt_id: int) -> None:
        """Carry on an attempt whose coordinator died: its results so far are replayed, the
        tasks that had not finished run again (their old requests are dropped)."""
        self.store.drop_queued(attempt_id)
        self.worker.recover()  # containers of the dead server's workers on this engine go
        self.run_stored(attempt_id, taking_over=True)

    def run_stored(self, attempt_id: int, taking_over: bool = False) -> None:
        """Run an attempt already in the store and leased by this server (the scheduler's and
        backfill's, or one taken over)."""
        store = self.store
        record = store.get_attempt(attempt_id)
        definition = store.workflow_definition(record.workflow_id) \
            if record is not None and record.workflow_id is not None else None
        project = store.project(definition.project_id) if definition is not None else None
        session = store.get_session(record.session_id) if record is not None else None
        if record is None or definition is None or project is None or session is None:
            raise UserInputError(f"attempt {attempt_id}: its workflow definition is gone")
        if taking_over:
            log.info("taking over attempt %s (%s of project %s)", attempt_id, definition.name,
                     project.name)
        when = datetime.fromisoformat(record.session_time)
        self._launch(attempt_id, definition, project, session, when, record.params,
                     record.retry_attempt_name, lambda root: Selection("all"),
                     after=record.after_attempt_id)

    # -- stopping ------------------------------------------------------------------------------
    def wait(self, attempt_id: int, timeout: float | None = None) -> None:
        """Until the attempt's coordinator in this process ended (tests, shutdown)."""
        with self._lock:
            entry = self._running.get(attempt_id)
        if entry is not None:
            entry[0].join(timeout)

    def close(self) -> None:
        """Stop: the coordinators of running attempts stop without ending them and their
        leases are given up, so that another server (or this one, started again) carries
        them on; the consumers hand their running tasks back."""
        self._stop.set()
        with self._lock:
            running = dict(self._running)
        for _, coordinator in running.values():
            coordinator.detach()
        for thread, _ in running.values():
            thread.join(30)
        for attempt_id in running:
            self.store.release_attempt(attempt_id, self.owner)
        self._beat.join(30)
        for thread, consumer_store in self._consumers:
            thread.join(30)
            consumer_store.close()
        self.events.flush()
        self.worker.close()


def _selection(root: Any, resume: Mapping[str, Any] | None, retry_name: str | None) -> Selection:
    """Digdag's retry: no resume runs every task again; resume failed replays what
    succeeded in the session; resume from +task runs from that task on."""
    if resume is None:
        return Selection("rerun") if retry_name else Selection("all")
    mode = resume.get("mode")
    if mode == "failed":
        return Selection("all")
    if mode == "from":
        target = resume.get("from")
        if not isinstance(target, str) or not target:
            raise UserInputError('resume mode "from" needs "from": "+wf+task"')
        try:
            task = find_task(root, target)
        except LookupError as e:
            raise UserInputError(str(e)) from None
        if task == root.name:
            raise UserInputError("resuming from the root task is not supported: retry without"
                                 " resume instead")
        return Selection("start", task)
    raise UserInputError(f'resume mode must be "failed" or "from", got {mode!r}')


class _LogStream(io.StringIO):
    """The attempts' reporter lines (failures, notes) into the server's log."""

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                log.info("%s", line)
        return len(text)
