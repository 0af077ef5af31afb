"""What happened to each task of a run, collected from the reporter's events.

A `Recorder` is a reporter listener (runtime/reporter.py): the JUnit report (junit.py) and
the live display (progress.py) read it. It is thread-safe: events come from the run loop and
from worker threads. A task that succeeded drops its output, so memory stays small on big
runs; a failed task keeps the last `tail_lines` lines it printed.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

RUNNING = "running"
RETRYING = "retrying"  # failed, waiting to be retried
PASSED = "passed"
FAILED = "failed"
SKIPPED = "skipped"  # includes cached
STATES = (RUNNING, RETRYING, PASSED, FAILED, SKIPPED)


@dataclass(slots=True)
class TaskRecord:
    name: str
    state: str = RUNNING
    started: float | None = None  # time.time() of the first try
    clock: float | None = None  # time.monotonic() of the first try
    seconds: float = 0.0  # from the start of the first try to the end of the last one
    message: str = ""  # the failure's message, or why the task was skipped
    tries: int = 0
    tail: deque[str] | None = None
    order: int = 0
    stopped: bool = False  # failed while the run was being stopped (Ctrl-C): killed, most likely


@dataclass
class Snapshot:
    """The counts and the running tasks at one moment, for the live display."""

    counts: dict[str, int]
    running: list[tuple[str, float]]  # (name, seconds running), longest first
    seen: int = 0
    extra: int = 0  # tasks outside the static tree seen so far (generated, require>)
    failed: list[str] = field(default_factory=list)


class Recorder:
    def __init__(self, tail_lines: int = 50, root_name: str | None = None) -> None:
        self.tail_lines = tail_lines
        self.root_prefix = f"{root_name}+" if root_name else None
        self._lock = threading.Lock()
        self.records: dict[str, TaskRecord] = {}
        self.counts = dict.fromkeys(STATES, 0)
        self.running: dict[str, float] = {}  # name -> monotonic start of the current try
        self.extra = 0
        self.failed_order: list[str] = []
        self.stopping: Callable[[], bool] | None = None  # whether the run is being stopped

    # -- bookkeeping -------------------------------------------------------------------------
    def _get(self, name: str) -> TaskRecord:
        rec = self.records.get(name)
        if rec is None:
            rec = TaskRecord(name, order=len(self.records))
            self.records[name] = rec
            self.counts[rec.state] += 1
            if self.root_prefix is not None and ("^" in name
                                                 or not name.startswith(self.root_prefix)):
                self.extra += 1
        return rec

    def _set(self, rec: TaskRecord, state: str) -> None:
        self.counts[rec.state] -= 1
        self.counts[state] += 1
        rec.state = state

    def _end(self, rec: TaskRecord) -> None:
        if rec.clock is not None:
            rec.seconds = time.monotonic() - rec.clock
        self.running.pop(rec.name, None)

    # -- reporter events ---------------------------------------------------------------------
    def task_started(self, name: str) -> None:
        now = time.monotonic()
        with self._lock:
            rec = self._get(name)
            if rec.clock is None:
                rec.clock, rec.started = now, time.time()
            rec.tries += 1
            if rec.state != RUNNING:
                self._set(rec, RUNNING)
            self.running[name] = now

    def task_output(self, name: str, line: str) -> None:
        with self._lock:
            rec = self.records.get(name)
            if rec is None:  # an inline operator (echo>) prints without starting
                rec = self._get(name)
                rec.clock, rec.started = time.monotonic(), time.time()
            if rec.tail is None:
                rec.tail = deque(maxlen=self.tail_lines)
            rec.tail.append(line)

    def task_cached(self, name: str) -> None:
        with self._lock:
            rec = self._get(name)
            rec.message = "cached"
            if rec.started is None:
                rec.clock, rec.started = time.monotonic(), time.time()
            self._set(rec, SKIPPED)

    def task_finished(self, name: str) -> None:
        with self._lock:
            rec = self._get(name)
            if rec.clock is None:  # inline operators have no start event
                rec.clock, rec.started = time.monotonic(), time.time()
            self._end(rec)

    def task_succeeded(self, name: str) -> None:
        with self._lock:
            rec = self._get(name)
            rec.tail = None
            if rec.state != SKIPPED:  # cached tasks stay skipped
                self._set(rec, PASSED)
                rec.message = ""

    def task_failed(self, name: str, message: str) -> None:
        with self._lock:
            rec = self._get(name)
            self._end(rec)
            rec.message = message
            rec.stopped = self.stopping is not None and self.stopping()
            if rec.state != FAILED:
                self._set(rec, FAILED)
                self.failed_order.append(name)

    def task_retrying(self, name: str, message: str, attempt: int, limit: int,
                      wait: float) -> None:
        with self._lock:
            rec = self._get(name)
            self._end(rec)
            rec.message = message
            self._set(rec, RETRYING)

    def task_skipped(self, name: str, why: str) -> None:
        with self._lock:
            rec = self._get(name)
            rec.message = why
            self._set(rec, SKIPPED)

    # -- reading -----------------------------------------------------------------------------
    def snapshot(self, running_limit: int = 10) -> Snapshot:
        now = time.monotonic()
        with self._lock:
            running = sorted(self.running.items(), key=lambda item: item[1])[:running_limit]
            return Snapshot(dict(self.counts), [(n, now - t) for n, t in running],
                            seen=len(self.records), extra=self.extra,
                            failed=list(self.failed_order))

    def all(self) -> list[TaskRecord]:
        """Every task seen, in the order first seen; running ones get their time so far."""
        now = time.monotonic()
        with self._lock:
            for name in self.running:
                rec = self.records[name]
                if rec.clock is not None:
                    rec.seconds = now - rec.clock
            return list(self.records.values())

    def tail(self, name: str) -> list[str]:
        with self._lock:
            rec = self.records.get(name)
            return list(rec.tail) if rec is not None and rec.tail else []
