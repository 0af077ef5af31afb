"""The runner in-process, with real host processes and a real SQLite store."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

from dockerflow.dig.workflow import load_workflow
from dockerflow.runtime.coordinator import RunOptions
from dockerflow.runtime.local import start_attempt
from dockerflow.runtime.reporter import Reporter
from dockerflow.store import open_store


def test_long_tasks_are_reported_as_still_running(tmp_path: Path) -> None:
    (tmp_path / "wf.dig").write_text("+slow:\n  sh>: sleep 1.6\n+quick:\n  echo>: done\n")
    err = io.StringIO()
    store = open_store(str(tmp_path / ".dockerflow" / "state.db"))
    attempt = start_attempt(load_workflow(tmp_path / "wf.dig", tmp_path), tmp_path, store,
                            datetime(2024, 3, 5, tzinfo=timezone.utc), {},
                            Reporter(out=io.StringIO(), err=err),
                            RunOptions(progress_interval=0.5), docker_factory=None)
    summary = attempt.run()
    store.close()
    assert summary.success
    lines = [line for line in err.getvalue().splitlines() if line.startswith("still running")]
    assert lines and all(line.startswith("still running: +wf+slow (") for line in lines)
    assert 1 <= len(lines) <= 4
