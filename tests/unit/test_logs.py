"""Local task logs (runtime/logs.py): one folder per attempt, one file per task."""

from __future__ import annotations

import io
from pathlib import Path

from dockerflow.runtime.local import LocalEvents
from dockerflow.runtime.logs import FileLogStore
from dockerflow.runtime.reporter import Reporter
from dockerflow.runtime.requests import TaskRequest


def request(attempt: int, name: str) -> TaskRequest:
    return TaskRequest(attempt, 1, name, "sh", {}, {}, "/p", "/p/io", "wf")


def test_each_attempt_logs_into_its_own_folder(tmp_path: Path) -> None:
    logs = FileLogStore()
    logs.open_attempt(1, tmp_path / "parent")
    logs.open_attempt(2, tmp_path / "child")
    logs.append(1, "+p+a", "one")
    logs.append(2, "+c+a", "two")
    logs.append(1, "+p+a", "three")
    logs.end_task(1, "+p+a")
    logs.close()
    assert (tmp_path / "parent" / "+p+a.log").read_text() == "one\nthree\n"
    assert (tmp_path / "child" / "+c+a.log").read_text() == "two\n"
    assert not (tmp_path / "parent" / "+c+a.log").exists()


def test_quiet_terminal_still_logs_and_inline_output_is_not_logged(tmp_path: Path) -> None:
    logs = FileLogStore()
    logs.open_attempt(7, tmp_path)
    reporter = Reporter(out=io.StringIO(), err=io.StringIO(), quiet=True)
    events = LocalEvents(reporter, logs)
    events.task_output(request(7, "+wf+a"), "secret-ish line", True)
    events.task_output(request(7, "+wf+e"), "echo line", False)
    events.task_ended(request(7, "+wf+a"))
    assert reporter.out.getvalue() == ""  # type: ignore[attr-defined]
    assert (tmp_path / "+wf+a.log").read_text() == "secret-ish line\n"
    assert not (tmp_path / "+wf+e.log").exists()
