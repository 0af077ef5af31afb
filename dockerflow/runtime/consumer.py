"""A worker's loop over a database: claim task requests, run them, write their outcomes.

    Consumer(store, worker, owner).run(stop)
      loop until `stop`:
        claim()              while a slot is free: the oldest request whose lease is free or
                             expired (a worker that died: its request runs again here, so
                             delivery is at-least-once)
        _slot(claim)         in a thread: TaskWorker.execute -> store.complete (or release
                             when this worker is stopping)
        wait                 for the store's "queue" or "cancel" notification, a slot that
                             freed, or the next lease expiry: never a fixed tick
      heartbeat thread       renews the leases of running requests every lease/3 seconds
      cancel               a "cancel" notification: the attempts this worker runs that were
                             asked to stop have their commands stopped (containers removed)

Used by `dockerflow worker` and by `dockerflow run --database URL --workers N`. A worker that
cannot see the project folder a request names unpacks the project archive kept in the
database into its cache folder and runs there.
"""

from __future__ import annotations

import dataclasses
import io
import os
import socket
import tarfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from dockerflow.runtime.requests import ErrorReason, TaskError, TaskOutcome, TaskRequest
from dockerflow.runtime.worker import TaskWorker
from dockerflow.store.base import Claim, Store

LEASE_SECONDS = 30.0


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


LOG_DELAY = 1.0  # seconds a task's line may wait to be written with the next ones


class StoreEvents:
    """WorkerEvents of a consumer: task output goes to the store's task logs in batches (200
    lines, or what came within LOG_DELAY of a batch's first line, and at the end of each task:
    `log -f` sees a line about a second after it was printed), and a line per task start to
    `say` (the worker's terminal)."""

    def __init__(self, store: Store, say: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.say = say
        self._lock = threading.Lock()
        self._writing = threading.Lock()  # one writer at a time: lines reach the store in order
        self._lines: dict[tuple[int, str], list[str]] = defaultdict(list)

    def task_started(self, request: TaskRequest) -> None:
        if self.say is not None:
            self.say(f"[attempt {request.attempt_id} {request.task_name}] started")

    def task_cached(self, request: TaskRequest) -> None:
        self.task_output(request, "[dockerflow] cached", True)

    def task_output(self, request: TaskRequest, line: str, log: bool) -> None:
        key = (request.attempt_id, request.task_name)
        with self._lock:
            lines = self._lines[key]
            lines.append(line)
            first, full = len(lines) == 1, len(lines) >= 200
        if first:  # this batch goes out within LOG_DELAY, whatever follows
            timer = threading.Timer(LOG_DELAY, self._write, args=(key,))
            timer.daemon = True
            timer.start()
        if full:
            self._write(key)

    def task_ended(self, request: TaskRequest) -> None:
        self._write((request.attempt_id, request.task_name))

    def flush(self) -> None:
        with self._lock:
            keys = list(self._lines)
        for key in keys:
            self._write(key)

    def _write(self, key: tuple[int, str]) -> None:
        with self._writing:
            with self._lock:
                lines = self._lines.pop(key, None)
            if lines:
                self.store.append_log(key[0], key[1], lines)

    def info(self, text: str) -> None:
        if self.say is not None:
            self.say(text)


class Consumer:
    def __init__(self, store: Store, worker: TaskWorker, owner: str | None = None,
                 max_threads: int = 32, lease_seconds: float = LEASE_SECONDS,
                 cache_dir: Path | None = None) -> None:
        self.store = store
        self.worker = worker
        self.owner = owner or worker_name()
        self.max_threads = max_threads
        self.lease = lease_seconds
        self.cache_dir = cache_dir or Path.home() / ".cache" / "dockerflow" / "projects"
        self._lock = threading.Lock()
        self._running: dict[int, Claim] = {}  # queue id -> claim
        self._cancels: dict[int, threading.Event] = {}  # attempt id -> its stop flag
        self._wake = threading.Event()
        self._stopping = False
        self._unpack_lock = threading.Lock()
        self.ran = 0

    # -- the loop ----------------------------------------------------------------------------
    def wake(self) -> None:
        """Make the loop look at its stop flag now (a signal handler's helper)."""
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        listener = self.store.listen("queue", "cancel")
        relay = threading.Thread(target=self._relay, args=(listener, stop), daemon=True,
                                 name="consumer-notify")
        beat = threading.Thread(target=self._heartbeat, args=(stop,), daemon=True,
                                name="consumer-heartbeat")
        relay.start()
        beat.start()
        threads: list[threading.Thread] = []
        try:
            while not stop.is_set():
                self._wake.clear()
                self._check_cancels()
                while len(self._running) < self.max_threads and not stop.is_set():
                    claim = self.store.claim(self.owner, self.lease)
                    if claim is None:
                        break
                    with self._lock:
                        self._running[claim.queue_id] = claim
                    thread = threading.Thread(target=self._slot, args=(claim,), daemon=True,
                                              name=f"task-{claim.queue_id}")
                    thread.start()
                    threads = [t for t in threads if t.is_alive()] + [thread]
                self._wake.wait(self._until_expiry())
        finally:
            self._stopping = True
            with self._lock:
                busy = bool(self._running)
            if busy:  # stopping this worker: stop its commands, give the requests back
                self.worker.cancel_all()
            for t in threads:
                t.join()
            listener.close()

    def _until_expiry(self) -> float | None:
        """Seconds until the earliest lease of any worker expires (then a request may be
        taken over), or None to wait for a notification only."""
        at = self.store.next_lease_expiry()
        return None if at is None else max(0.05, at - time.time() + 0.05)

    def _relay(self, listener: object, stop: threading.Event) -> None:
        """Turn the store's notifications into wake-ups of the loop."""
        while not stop.is_set():
            if listener.wait(1.0):  # type: ignore[attr-defined]
                self._wake.set()
        self._wake.set()

    def _heartbeat(self, stop: threading.Event) -> None:
        while not stop.wait(self.lease / 3):
            with self._lock:
                ids = list(self._running)
            if ids:
                self.store.heartbeat(self.owner, ids, self.lease)

    def _check_cancels(self) -> None:
        with self._lock:
            attempts = {c.attempt_id for c in self._running.values()}
        if not attempts:
            return
        for attempt_id in self.store.canceled_attempts(attempts):
            self._cancel_event(attempt_id).set()
            threading.Thread(target=self.worker.cancel, args=(attempt_id,), daemon=True).start()

    def _cancel_event(self, attempt_id: int) -> threading.Event:
        with self._lock:
            event = self._cancels.get(attempt_id)
            if event is None:
                event = self._cancels[attempt_id] = threading.Event()
            return event

    # -- one request -------------------------------------------------------------------------
    def _slot(self, claim: Claim) -> None:
        request = TaskRequest.from_json(claim.request)
        outcome: TaskOutcome | None = None
        try:
            if claim.retry_count:  # taken over from a worker that died: its containers go
                self.worker.recover()
            request = self._locate(request)
            outcome = self.worker.execute(request, self._cancel_event(request.attempt_id))
        except Exception as e:  # noqa: BLE001 - the coordinator must hear of it
            outcome = TaskOutcome.failed(request, TaskError(f"the worker could not run the task: {e}",
                                                            ErrorReason.BUG))
        finally:
            if self._stopping and (outcome is None or outcome.error is not None):
                self.store.release(claim.queue_id, self.owner)  # another worker runs it
            elif outcome is not None:
                self.store.complete(claim.queue_id, self.owner, outcome.to_json())
                self.ran += 1
            with self._lock:
                self._running.pop(claim.queue_id, None)
            self._wake.set()

    def _locate(self, request: TaskRequest) -> TaskRequest:
        """The request as this worker can run it: in the project folder when it sees it,
        else in a copy unpacked from the project archive."""
        if Path(request.project_dir).is_dir() or request.archive is None:
            return request
        target = self.cache_dir / request.archive
        with self._unpack_lock:
            if not target.is_dir():
                data = self.store.get_archive(request.archive)
                if data is None:
                    raise FileNotFoundError(f"project archive {request.archive} is not in the database")
                partial = target.with_name(target.name + ".partial")
                partial.mkdir(parents=True, exist_ok=True)
                with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                    tar.extractall(partial, filter="data")
                partial.rename(target)
        io_root = request.io_root
        if io_root.startswith(request.project_dir):
            io_root = str(target) + io_root[len(request.project_dir):]
        return dataclasses.replace(request, project_dir=str(target), io_root=io_root)


def pack_project(project: Path, database: str | None = None) -> bytes:
    """The project folder as tar.gz for workers that do not see the folder: its
    `.dockerflow/` state left out, and the SQLite database `database` (a store URL) with its
    journal files when it lies inside: reading it through another file would also drop this
    process's SQLite locks on it."""
    skip: set[Path] = set()
    if database is not None and not database.startswith(("postgresql:", "postgres:")):
        db = Path(database.removeprefix("sqlite://")).resolve()
        skip = {db, *(db.with_name(db.name + suffix) for suffix in ("-wal", "-shm", "-journal"))}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(project.rglob("*")):
            rel = path.relative_to(project)
            if rel.parts[0] == ".dockerflow" or path.resolve() in skip:
                continue
            if path.is_file():
                tar.add(path, arcname=rel.as_posix(), recursive=False)
    return buf.getvalue()
