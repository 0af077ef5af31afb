"""How a coordinator's task requests reach a worker and their outcomes come back.

    TaskQueue               the coordinator's only view of execution (runtime/requests.py)
      open(attempt)         an attempt starts using the queue (its outcomes, its stop flag)
      submit(request)       -> the outcome at once (inline operators), or None: it comes later
      wait(attempt, t)      outcomes of the attempt, blocking up to t seconds (event-driven)
      post(outcome)         an outcome made elsewhere (require>'s attempt ended): wakes wait()
      wake(attempt)         makes wait() return (Ctrl-C)
      cancel(attempt)       stop the attempt's tasks wherever they run
      pending(attempt)      requests still queued or running elsewhere (None: not known)
      kill_requested(a)     another process asked, through the store, to stop the attempt
      close(attempt)

    InProcessQueue          a thread pool running a TaskWorker (`dockerflow run`)
    StoreQueue              requests stored in the database for `dockerflow worker` processes
                            (runtime/consumer.py) to claim; outcomes read back on notification

Several attempts may share one queue (require> runs another attempt beside its parent).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from dockerflow.runtime.requests import ErrorReason, TaskError, TaskOutcome, TaskRequest
from dockerflow.runtime.worker import TaskWorker
from dockerflow.store.base import Store


class _Attempt:
    __slots__ = ("outcomes", "canceled")

    def __init__(self) -> None:
        self.outcomes: queue.SimpleQueue[TaskOutcome | None] = queue.SimpleQueue()
        self.canceled = threading.Event()


def _drain(items: queue.SimpleQueue[TaskOutcome | None], timeout: float | None) -> list[TaskOutcome]:
    try:
        first = items.get(timeout=timeout) if timeout is None or timeout > 0 else items.get_nowait()
    except queue.Empty:
        return []
    out = [first] if first is not None else []
    while True:
        try:
            item = items.get_nowait()
        except queue.Empty:
            return out
        if item is not None:
            out.append(item)


class _Inline:
    """What both queues share: attempts' outcome queues and stop flags, and running inline
    operators (echo>, call>, if>...) on the spot with a worker of their own."""

    def __init__(self, worker: TaskWorker) -> None:
        self.worker = worker
        self._attempts: dict[int, _Attempt] = {}
        self._lock = threading.Lock()

    def open(self, attempt_id: int) -> None:
        with self._lock:
            self._attempts.setdefault(attempt_id, _Attempt())

    def close(self, attempt_id: int) -> None:
        with self._lock:
            self._attempts.pop(attempt_id, None)

    def _attempt(self, attempt_id: int) -> _Attempt:
        with self._lock:
            found = self._attempts.get(attempt_id)
            if found is None:
                found = self._attempts[attempt_id] = _Attempt()
            return found

    def post(self, outcome: TaskOutcome) -> None:
        self._attempt(outcome.attempt_id).outcomes.put(outcome)

    def wake(self, attempt_id: int) -> None:
        self._attempt(attempt_id).outcomes.put(None)

    def _inline(self, request: TaskRequest) -> TaskOutcome | None:
        if not self.worker.is_inline(request.op):
            return None
        return self.worker.execute(request, self._attempt(request.attempt_id).canceled)


class InProcessQueue(_Inline):
    """Runs requests on `worker` in up to `max_threads` threads of this process."""

    def __init__(self, worker: TaskWorker, max_threads: int = 32) -> None:
        super().__init__(worker)
        self._pool = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="task")

    def submit(self, request: TaskRequest) -> TaskOutcome | None:
        done = self._inline(request)
        if done is None:
            self._pool.submit(self._run, request, self._attempt(request.attempt_id))
        return done

    def _run(self, request: TaskRequest, attempt: _Attempt) -> None:
        """In a pool thread: run the request and hand the outcome back (always)."""
        out = TaskOutcome.failed(request, TaskError("the worker stopped unexpectedly", ErrorReason.BUG))
        try:
            out = self.worker.execute(request, attempt.canceled)
        finally:
            attempt.outcomes.put(out)

    def wait(self, attempt_id: int, timeout: float | None) -> list[TaskOutcome]:
        return _drain(self._attempt(attempt_id).outcomes, timeout)

    def cancel(self, attempt_id: int) -> None:
        self._attempt(attempt_id).canceled.set()
        threading.Thread(target=self.worker.cancel, args=(attempt_id,), daemon=True).start()

    def pending(self, attempt_id: int) -> int | None:
        return None  # the coordinator counts its own: every request's outcome comes back

    def kill_requested(self, attempt_id: int) -> bool:
        return False  # no one else reaches an attempt of this process (Ctrl-C: interrupt)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)


class StoreQueue(_Inline):
    """Requests go into the store's task queue; `dockerflow worker` processes (and the
    consumers a `run --database --workers N` starts in its own process) claim them. Outcomes
    are read back when the store notifies `attempt_<id>`: no polling. `show(name, line)` is
    given the log lines other processes stored for each task that came back."""

    def __init__(self, store: Store, worker: TaskWorker,
                 show: Callable[[str, str], None] | None = None) -> None:
        super().__init__(worker)
        self.store = store
        self.show = show
        self._shown: dict[tuple[int, str], int] = {}  # log lines shown so far
        self._listeners: dict[int, object] = {}
        self._killed: set[int] = set()  # attempts another process asked to stop
        self._canceled_here: set[int] = set()  # attempts this process stopped itself

    def open(self, attempt_id: int) -> None:
        super().open(attempt_id)
        self._listeners[attempt_id] = self.store.listen(f"attempt_{attempt_id}")

    def close(self, attempt_id: int) -> None:
        listener = self._listeners.pop(attempt_id, None)
        if listener is not None:
            listener.close()  # type: ignore[attr-defined]
        super().close(attempt_id)

    def submit(self, request: TaskRequest) -> TaskOutcome | None:
        done = self._inline(request)
        if done is None:
            self.store.flush()  # what the worker reads (results, records) is written first
            self.store.enqueue(request.attempt_id, request.task_name, request.to_json())
        return done

    def post(self, outcome: TaskOutcome) -> None:
        super().post(outcome)
        self.store.notify(f"attempt_{outcome.attempt_id}")

    def wake(self, attempt_id: int) -> None:
        super().wake(attempt_id)
        self.store.notify(f"attempt_{attempt_id}")

    def wait(self, attempt_id: int, timeout: float | None) -> list[TaskOutcome]:
        local = self._attempt(attempt_id).outcomes
        listener = self._listeners[attempt_id]
        for first in (True, False):
            out = _drain(local, 0)
            for queued in self.store.take_outcomes(attempt_id):
                outcome = TaskOutcome.from_json(queued.outcome)
                self._show_log(outcome)
                out.append(outcome)
            if out or not first:
                return out
            if not listener.wait(timeout):  # type: ignore[attr-defined]
                return _drain(local, 0)
            if self.store.canceled_attempts([attempt_id]):  # woken by a kill request?
                self._killed.add(attempt_id)
        return []

    def kill_requested(self, attempt_id: int) -> bool:
        return attempt_id in self._killed and attempt_id not in self._canceled_here

    def _show_log(self, outcome: TaskOutcome) -> None:
        if self.show is None:
            return
        key = (outcome.attempt_id, outcome.task_name)
        lines = self.store.task_log(*key)
        for line in lines[self._shown.get(key, 0):]:
            self.show(outcome.task_name, line)
        self._shown[key] = len(lines)

    def cancel(self, attempt_id: int) -> None:
        self._attempt(attempt_id).canceled.set()
        self._canceled_here.add(attempt_id)  # our own request: not another process's kill
        self.store.request_cancel(attempt_id)  # workers stop its tasks; unclaimed ones go
        self.worker.cancel(attempt_id)

    def pending(self, attempt_id: int) -> int | None:
        return self.store.queued(attempt_id)
