"""What the user sees while a workflow runs: task starts, prefixed output, the summary."""

from __future__ import annotations

import sys
import threading
from typing import Any, TextIO


class Reporter:
    """Prints events (thread-safe); the terminal only: task logs are kept by a log store
    (runtime/logs.py locally, the store's task logs through a database).

    `listeners` (the JUnit report, the live display: runtime/records.py) are told of every
    task event: each event method calls `self._notify("<method name>", *its arguments)`, and
    a listener's method of that name, when it has one, is called (from the thread of the
    event, outside the reporter's lock). `quiet` hides the task lines (output, starts, skips);
    `verbose` asks subclasses for more (DisplayReporter: durations, starts and skips)."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None,
                 quiet: bool = False, verbose: bool = False) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.quiet = quiet
        self.verbose = verbose
        self.listeners: list[Any] = []
        self._lock = threading.Lock()
        self._closed: set[TextIO] = set()

    def _print(self, text: str, err: bool = False) -> None:
        with self._lock:
            self._write(self.err if err else self.out, text)

    def _write(self, stream: TextIO, text: str) -> None:
        """Write a line; a closed pipe (`| head`) must not stop the run, so it is ignored."""
        if stream in self._closed:
            return
        try:
            stream.write(text + "\n")
            stream.flush()
        except (BrokenPipeError, ValueError, OSError):
            self._closed.add(stream)

    def _notify(self, event: str, *args: Any) -> None:
        for listener in self.listeners:
            method = getattr(listener, event, None)
            if method is not None:
                method(*args)

    def info(self, text: str) -> None:
        self._print(text, err=True)

    def warning(self, text: str) -> None:
        self._print(f"warning: {text}", err=True)

    def task_started(self, name: str, note: str = "") -> None:
        self._notify("task_started", name)
        if not self.quiet:
            self._print(f"[{name}] started{note}")

    def task_output(self, name: str, line: str) -> None:
        """A line the task printed."""
        if not self.quiet:
            self._print(f"[{name}] {line}")
        self._notify("task_output", name, line)

    def task_finished(self, name: str) -> None:
        """The task's outcome arrived; task_succeeded, task_failed or task_retrying follows."""
        self._notify("task_finished", name)

    def task_succeeded(self, name: str) -> None:
        self._notify("task_succeeded", name)

    def task_skipped(self, name: str, why: str) -> None:
        self._notify("task_skipped", name, why)
        if not self.quiet:
            self._print(f"[{name}] skipped ({why})")

    def task_cached(self, name: str) -> None:
        """The task's `_cache` hit: its outputs and stored params were restored, nothing ran."""
        self._notify("task_cached", name)
        if not self.quiet:
            self._print(f"[{name}] cached")

    def task_failed(self, name: str, message: str) -> None:
        self._notify("task_failed", name, message)
        self._print("\n".join(f"[{name}] failed: {line}" for line in message.splitlines()),
                    err=True)

    def task_retrying(self, name: str, message: str, attempt: int, limit: int,
                      wait: float) -> None:
        self._notify("task_retrying", name, message, attempt, limit, wait)
        self._print(f"[{name}] failed: {message}; retry {attempt}/{limit}"
                    + (f" in {wait:g}s" if wait else ""), err=True)
