"""The runner's side of an engine that restarts or is down: fake Docker executors, no engine.

The executor reports (EngineLost after it waited and cleaned up, EngineUnavailable when the
engine does not answer); the runner decides: run the task again (counted), or fail it.
"""

from __future__ import annotations

import io
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from dockerflow.dig.workflow import load_workflow
from dockerflow.errors import EngineLost, EngineUnavailable
from dockerflow.executors.base import ExecRequest, ExecResult
from dockerflow.executors.docker_options import DockerOptions, DockerOptionsError
from dockerflow.executors.host import HostExecutor
from dockerflow.operators.base import OperatorContext
from dockerflow.runtime.coordinator import RunOptions, RunSummary
from dockerflow.runtime.local import start_attempt
from dockerflow.runtime.reporter import Reporter
from dockerflow.runtime.worker import ENGINE_RERUNS
from dockerflow.store import open_store

WORKFLOW = """
+first:
  sh>: echo first >> first.txt
+slow:
  _export:
    docker:
      image: some/image:1
  sh>: echo run >> slow.txt; echo line-of-slow
"""


class FlakyEngine:
    """Runs requests on the host; the first `losses` runs print a line, then report the engine
    lost (recovered or not), as DockerExecutor does after waiting for it."""

    def __init__(self, losses: int, recovered: bool = True) -> None:
        self.losses = losses
        self.recovered = recovered
        self.requests: list[ExecRequest] = []
        self.host = HostExecutor()
        self.lock = threading.Lock()

    def run(self, request: ExecRequest) -> ExecResult:
        with self.lock:
            self.requests.append(request)
            lose = self.losses > 0
            self.losses -= 1
        if lose:
            request.on_output("before the restart")
            request.on_output("[dockerflow] the Docker engine stopped answering; waiting up to 60s for it")
            raise EngineLost("the Docker engine at unix:///x.sock stopped answering", recovered=self.recovered)
        return self.host.run(request)

    def cancel(self, match: Any) -> None:
        self.host.cancel(match)

    def cancel_all(self) -> None:
        self.host.cancel_all()


def run(tmp_path: Path, factory: Any, workflow: str = WORKFLOW) -> tuple[RunSummary, str]:
    (tmp_path / "wf.dig").write_text(workflow)
    out = io.StringIO()
    store = open_store(str(tmp_path / ".dockerflow" / "state.db"))
    attempt = start_attempt(load_workflow(tmp_path / "wf.dig", tmp_path), tmp_path, store,
                            datetime(2024, 3, 5, tzinfo=timezone.utc), {},
                            Reporter(out=out, err=out), RunOptions(), docker_factory=factory)
    try:
        return attempt.run(), out.getvalue()
    finally:
        store.close()


def test_a_restart_runs_the_task_again_and_is_counted(tmp_path: Path) -> None:
    engine = FlakyEngine(losses=1)
    summary, output = run(tmp_path, lambda: engine)
    assert summary.success and summary.engine_reruns == 1 and summary.failed == []
    assert (tmp_path / "first.txt").read_text() == "first\n"  # the finished task is not re-run
    assert (tmp_path / "slow.txt").read_text() == "run\n"
    lines = [line for line in output.splitlines() if line.startswith("[+wf+slow]")]
    assert lines == [
        "[+wf+slow] started",
        "[+wf+slow] before the restart",
        "[+wf+slow] [dockerflow] the Docker engine stopped answering; waiting up to 60s for it",
        f"[+wf+slow] [dockerflow] running +wf+slow again because the Docker engine restarted (re-run 1 of at most {ENGINE_RERUNS})",
        "[+wf+slow] line-of-slow",
    ]
    assert all(isinstance(r.docker, DockerOptions) for r in engine.requests)


def test_an_engine_that_stays_away_fails_the_task(tmp_path: Path) -> None:
    summary, output = run(tmp_path, lambda: FlakyEngine(losses=1, recovered=False))
    assert not summary.success and summary.engine_reruns == 0
    assert summary.failed == [("+wf+slow", "the Docker engine at unix:///x.sock stopped answering")]
    assert summary.engine_unavailable == ["+wf+slow"]
    assert not (tmp_path / "slow.txt").exists()


def test_re_runs_are_bounded(tmp_path: Path) -> None:
    summary, _ = run(tmp_path, lambda: FlakyEngine(losses=100))
    assert not summary.success and summary.engine_reruns == ENGINE_RERUNS
    name, message = summary.failed[0]
    assert name == "+wf+slow" and f"restarted {ENGINE_RERUNS + 1} times" in message
    assert summary.engine_unavailable == ["+wf+slow"]


def test_an_engine_down_at_start_fails_the_task_as_unavailable(tmp_path: Path) -> None:
    def factory() -> Any:
        raise EngineUnavailable("the Docker engine at unix:///x.sock does not answer: start it")

    summary, _ = run(tmp_path, factory)
    assert not summary.success and summary.engine_reruns == 0
    assert summary.failed == [("+wf+slow", "the Docker engine at unix:///x.sock does not answer: start it")]
    assert summary.engine_unavailable == ["+wf+slow"]


def test_other_failures_are_not_engine_failures(tmp_path: Path) -> None:
    summary, _ = run(tmp_path, lambda: FlakyEngine(losses=0),
                     WORKFLOW.replace("echo line-of-slow", "exit 3"))
    assert not summary.success and summary.engine_unavailable == []


# ---------------------------------------------------------------- typed options


def _ctx(tmp_path: Path, docker: Any, executor: Any) -> OperatorContext:
    return OperatorContext(
        full_name="+wf+t", op="sh", config={}, params={"docker": docker}, project_dir=tmp_path,
        io_root=tmp_path / "io", output=lambda line: None, host=HostExecutor(),
        docker=lambda: executor, canceled=threading.Event(), taskside=tmp_path,
        max_tasks=10, load_config=lambda p: {})


def test_the_executor_receives_parsed_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKERFLOW_TEST_TOKEN", "from-host")
    seen: list[ExecRequest] = []

    class Capture:
        def run(self, request: ExecRequest) -> ExecResult:
            seen.append(request)
            return ExecResult(0)

        def cancel_all(self) -> None:
            pass

    docker = {"image": "img:1", "memory": "64m", "run_options": ["-e", "DOCKERFLOW_TEST_TOKEN", "-v", "./data:/data"]}
    _ctx(tmp_path, docker, Capture()).execute(["true"], {})
    options = seen[0].docker
    assert isinstance(options, DockerOptions)
    assert options.image == "img:1" and options.run.mem_limit == 64 << 20
    assert options.run.env["DOCKERFLOW_TEST_TOKEN"] == "from-host"  # -e NAME from the host environment
    assert any(b.startswith(f"{tmp_path}/data:/data") for b in options.run.binds)  # relative to the project folder


def test_bad_options_are_refused_before_the_executor(tmp_path: Path) -> None:
    class Never:
        def run(self, request: ExecRequest) -> ExecResult:
            raise AssertionError("the executor was called")

        def cancel_all(self) -> None:
            pass

    with pytest.raises(DockerOptionsError, match="--entrypoint"):
        _ctx(tmp_path, {"image": "img:1", "run_options": ["--entrypoint", "x"]}, Never()).execute(["true"], {})
