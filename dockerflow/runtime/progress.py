"""What `dockerflow run` shows while it runs: a live display on a terminal, plain lines else.

On a terminal (stdout is a TTY and TERM is set and not `dumb`), the tasks' output lines are
printed as always, and below them a live area (rich) shows the counts (done, failed,
running, left) and the running tasks with their elapsed time; at the end the area goes away
and a short summary table stays: the counts, the failed tasks and the slowest few. The
"started"/"skipped"/"cached" lines are left to the live area there (`--verbose` prints
them). When stdout is not a terminal (CI logs, pipes), the output is the plain prefixed
lines of reporter.py, unchanged. NO_COLOR turns colors off, not the display.

`--quiet`: no task lines, only failures (each with the last lines its task printed) and the
closing summary. `--verbose`: also starts and skips on a terminal, each
task's duration, `still running:`.

`RunOutput` wraps a run: starts the display, and at the end (success, failure, Ctrl-C or a
crash) stops it, writes the JUnit report (junit.py) and prints the summary table.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from dockerflow.runtime.records import FAILED, PASSED, RETRYING, RUNNING, SKIPPED, Recorder
from dockerflow.runtime.reporter import Reporter

QUIET_TAIL = 20  # lines of a failed task's output shown with --quiet
SUMMARY_FAILED = 10  # failed tasks named in the summary table
SUMMARY_SLOWEST = 5  # and the slowest tasks that passed (of those that took SLOW_SECONDS)
SLOW_SECONDS = 0.1
FLUSH_SECONDS = 0.03  # how long a line may wait to be printed above the live area


def live_wanted(out: TextIO, environ: dict[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    try:
        tty = out.isatty()
    except (AttributeError, ValueError, OSError):
        return False
    return tty and env.get("TERM", "") not in ("", "dumb", "unknown")


def make_reporter(quiet: bool = False, verbose: bool = False, out: TextIO | None = None,
                  err: TextIO | None = None) -> Reporter:
    """The reporter of `dockerflow run`: with the live display on a terminal, a recorder for
    --quiet and --verbose, or the plain one."""
    out = out or sys.stdout
    err = err or sys.stderr
    live = not quiet and live_wanted(out)
    if not (live or quiet or verbose):
        return Reporter(out=out, err=err)
    return DisplayReporter(out=out, err=err, quiet=quiet, verbose=verbose, live=live)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class DisplayReporter(Reporter):
    """A Reporter with a Recorder; `live`: the rich display, with every line printed above
    it through the same console so that nothing is garbled or lost."""

    def __init__(self, out: TextIO, err: TextIO, quiet: bool = False, verbose: bool = False,
                 live: bool = False) -> None:
        super().__init__(out=out, err=err, quiet=quiet, verbose=verbose)
        self.recorder = Recorder()
        self.listeners.append(self.recorder)
        self.live = live
        self.total = 0  # operator tasks of the workflow's static tree
        self.started = time.monotonic()
        self._live: Any = None
        self.console: Any = None
        self._pending: list[str] = []  # lines waiting to be printed above the live area
        self._flusher: threading.Thread | None = None
        self._stopping = threading.Event()
        self._err_on_terminal = False  # stderr lines then go above the live area too
        if live:
            from rich.console import Console

            self.console = Console(file=out, highlight=False, soft_wrap=True)
            try:
                self._err_on_terminal = err.isatty()
            except (AttributeError, ValueError, OSError):
                self._err_on_terminal = False

    # -- the live area -----------------------------------------------------------------------
    def start(self, total: int) -> None:
        self.total = total
        self.started = time.monotonic()
        if not self.live or self._live is not None:
            return
        from rich.live import Live

        self._live = Live(_View(self), console=self.console, refresh_per_second=8,
                          transient=True, redirect_stdout=True,
                          redirect_stderr=self._err_on_terminal)
        self._live.start()
        self._stopping = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name="display", daemon=True)
        self._flusher.start()

    def stop(self) -> None:
        if self._live is None:
            return
        self._stopping.set()
        if self._flusher is not None:
            self._flusher.join()
        with self._lock:  # no line is being printed meanwhile
            live, self._live = self._live, None
            lines, self._pending = self._pending, []
            self._print_lines(lines)
            live.stop()

    def _write(self, stream: TextIO, text: str) -> None:
        """While the live area shows, lines (the caller holds the lock) wait a few
        milliseconds to be printed above it together: one redraw for many lines."""
        if self._live is None or self.out in self._closed \
                or not (stream is self.out or (stream is self.err and self._err_on_terminal)):
            super()._write(stream, text)
            return
        self._pending.append(text)

    def _flush_loop(self) -> None:
        while not self._stopping.wait(FLUSH_SECONDS):
            with self._lock:
                lines, self._pending = self._pending, []
            self._print_lines(lines)  # only this thread prints while the area shows

    def _print_lines(self, lines: list[str]) -> None:
        if not lines:
            return
        from rich.text import Text

        texts = [Text.from_ansi(line) if "\x1b" in line else Text(line) for line in lines]
        try:
            self.console.print(Text("\n").join(texts), soft_wrap=True)
        except (BrokenPipeError, ValueError, OSError):
            self._closed.add(self.out)

    # -- events ------------------------------------------------------------------------------
    def task_started(self, name: str, note: str = "") -> None:
        if self.live and not self.verbose:
            self._notify("task_started", name)
            return
        super().task_started(name, note)

    def task_skipped(self, name: str, why: str) -> None:
        if self.live and not self.verbose:
            self._notify("task_skipped", name, why)
            return
        super().task_skipped(name, why)

    def task_cached(self, name: str) -> None:
        if self.live and not self.verbose:
            self._notify("task_cached", name)
            return
        base = getattr(super(), "task_cached", None)
        if base is not None:
            base(name)
        else:
            self._notify("task_cached", name)

    def task_succeeded(self, name: str) -> None:
        super().task_succeeded(name)
        if self.verbose:
            rec = self.recorder.records.get(name)
            if rec is not None and rec.state == PASSED:
                self._print(f"[{name}] done in {_duration(rec.seconds)}")

    def task_failed(self, name: str, message: str) -> None:
        if self.quiet:  # the task's lines were not shown: show how it ended
            tail = self.recorder.tail(name)[-QUIET_TAIL:]
            if tail:
                self._print("\n".join(f"[{name}] {line}" for line in tail))
        super().task_failed(name, message)

    def info(self, text: str) -> None:
        if self.live and not self.verbose and text.startswith("still running: "):
            return  # the live area shows how long each task has been running
        super().info(text)

    # -- the end -----------------------------------------------------------------------------
    def summary_table(self, seconds: float, not_run: int) -> Any:
        from rich.table import Table
        from rich.text import Text

        records = self.recorder.all()
        counts = {s: 0 for s in (PASSED, FAILED, SKIPPED, RUNNING, RETRYING)}
        for rec in records:
            counts[RUNNING if rec.state == FAILED and rec.stopped else rec.state] += 1
        parts = [f"{counts[PASSED]} passed", f"{counts[FAILED]} failed",
                 f"{counts[SKIPPED]} skipped"]
        if counts[RUNNING] + counts[RETRYING]:
            parts.append(f"{counts[RUNNING] + counts[RETRYING]} stopped")
        if not_run:
            parts.append(f"{not_run} not run")
        title = f"{len(records) + not_run} tasks: " + ", ".join(parts) + f" in {_duration(seconds)}"
        failed = [r for r in records if r.state in (FAILED, RUNNING, RETRYING)]
        slow = sorted((r for r in records if r.state == PASSED and r.seconds >= SLOW_SECONDS),
                      key=lambda r: -r.seconds)
        rows = failed[:SUMMARY_FAILED] + slow[:SUMMARY_SLOWEST]
        if not rows:
            return Text(title)
        table = Table(title=title, title_justify="left", box=None, show_edge=False,
                      pad_edge=False, header_style="bold")
        table.add_column("task", overflow="fold")
        table.add_column("state")
        table.add_column("time", justify="right")
        styles = {FAILED: "red", RUNNING: "yellow", RETRYING: "yellow", PASSED: "green"}
        for rec in rows:
            state = "stopped" if rec.state in (RUNNING, RETRYING) or rec.stopped else rec.state
            table.add_row(rec.name, Text(state, style=styles.get(rec.state, "")),
                          _duration(rec.seconds))
        if len(failed) > SUMMARY_FAILED:
            table.add_row(f"... and {len(failed) - SUMMARY_FAILED} more failed", "", "")
        return table


class _View:
    """The live area, rendered a few times a second from the recorder's snapshot."""

    def __init__(self, reporter: DisplayReporter) -> None:
        self.reporter = reporter

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.text import Text

        r = self.reporter
        height = r.console.size.height if r.console is not None else 24
        snap = r.recorder.snapshot(running_limit=max(1, min(10, height - 3)))
        c = snap.counts
        done = c[PASSED] + c[SKIPPED]
        total = max(r.total + snap.extra, snap.seen)
        left = max(0, total - done - c[FAILED] - c[RUNNING] - c[RETRYING])
        line = Text.assemble(
            ("dockerflow ", "bold"), (f"{done} done", "green"), ", ",
            (f"{c[FAILED]} failed", "red" if c[FAILED] else ""), ", ",
            (f"{c[RUNNING]} running", "cyan"), ", ")
        if c[RETRYING]:
            line.append(f"{c[RETRYING]} waiting to retry", "yellow")
            line.append(", ")
        line.append(f"{left} left  {_duration(time.monotonic() - r.started)}")
        rows: list[Any] = [line]
        for name, seconds in snap.running:
            row = Text(f"  {_duration(seconds):>7}  {name}", no_wrap=True, overflow="ellipsis")
            rows.append(row)
        more = c[RUNNING] - len(snap.running)
        if more > 0:
            rows.append(Text(f"  ... and {more} more running"))
        return Group(*rows)


def count_operator_tasks(spec: Any) -> int:
    total, stack = 0, [spec]
    while stack:
        node = stack.pop()
        if not node.is_group:
            total += 1
        stack.extend(node.children)
    return total


class RunOutput:
    """`with RunOutput(reporter, attempt.coordinator, junit_path) as output: output.summary =
    run()`: the live display during the run; the JUnit report and the summary table after
    it, however it ended."""

    def __init__(self, reporter: Reporter, coordinator: Any, junit_path: str | Path | None = None,
                 properties: dict[str, str] | None = None) -> None:
        self.reporter = reporter
        self.coordinator = coordinator
        self.junit = Path(junit_path) if junit_path else None
        self.properties = properties or {}
        self.summary: Any = None
        root = coordinator.sched.root
        self.workflow = root.full_name.lstrip("+")
        recorder = getattr(reporter, "recorder", None)
        if recorder is None and self.junit is not None:
            recorder = Recorder()
            reporter.listeners.append(recorder)
        if recorder is not None:
            recorder.root_prefix = root.full_name + "+"
            canceled = getattr(coordinator, "canceled", None)  # set by Ctrl-C, before tasks are killed
            if canceled is not None:
                recorder.stopping = canceled.is_set
        self.recorder: Recorder | None = recorder
        self.started = time.time()
        self.clock = time.monotonic()

    def __enter__(self) -> RunOutput:
        self.started, self.clock = time.time(), time.monotonic()
        if isinstance(self.reporter, DisplayReporter):
            self.reporter.start(count_operator_tasks(self.coordinator.sched.root.spec))
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        reporter = self.reporter
        try:
            if isinstance(reporter, DisplayReporter):
                reporter.stop()
        finally:
            self._finish()

    def _finish(self) -> None:
        seconds = time.monotonic() - self.clock
        summary = self.summary
        interrupted = signal.Signals(summary.interrupted).name \
            if summary is not None and summary.interrupted else None
        reporter = self.reporter
        live = isinstance(reporter, DisplayReporter) and reporter.live
        tree: list[tuple[str, str | None]] | None = None
        if self.recorder is not None and (self.junit is not None or live):
            from dockerflow.runtime import junit  # only for --junit and the live display

            tree = list(junit.tree_tasks(self.coordinator.sched.root))
        if self.junit is not None and self.recorder is not None and tree is not None:
            tails = {r.name: list(r.tail) for r in self.recorder.all() if r.tail}
            cases = junit.cases(self.recorder.all(), self.workflow, tails,
                                interrupted=interrupted,
                                engine_unavailable=getattr(summary, "engine_unavailable", ()),
                                not_run=tree)
            try:
                junit.write(self.junit, junit.render(cases, self.workflow, self.started,
                                                     seconds, self.properties))
            except OSError as e:
                self.reporter.warning(f"--junit {self.junit}: could not write the report: {e}")
        if isinstance(reporter, DisplayReporter):
            if live and reporter.console is not None and tree is not None:
                seen = reporter.recorder.records
                not_run = sum(1 for name, _ in tree if name not in seen)
                try:
                    reporter.console.print(reporter.summary_table(seconds, not_run))
                except (BrokenPipeError, ValueError, OSError):
                    pass
