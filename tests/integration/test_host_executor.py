"""The host executor with real processes: a stopped task leaves none of its processes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from dockerflow.executors.base import ExecRequest, ExitReason
from dockerflow.executors.host import HostExecutor


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie is dead, waiting for its reaper


def test_a_canceled_task_leaves_no_process_even_one_that_ignores_sigterm(tmp_path: Path) -> None:
    pid_file = tmp_path / "child"
    script = f"(trap '' TERM; sleep 60) & echo $! > {pid_file}; wait"
    canceled = threading.Event()
    request = ExecRequest(argv=["/bin/sh", "-c", script], env={}, cwd=tmp_path, project_dir=tmp_path,
                          io_dir=tmp_path, task_name="+wf+t", on_output=lambda line: None,
                          labels={"attempt": "1"}, canceled=canceled)
    executor = HostExecutor()
    results = []
    runner = threading.Thread(target=lambda: results.append(executor.run(request)))
    runner.start()
    deadline = time.time() + 10
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.time() < deadline
        time.sleep(0.05)
    child = int(pid_file.read_text())
    began = time.time()
    canceled.set()
    executor.cancel({"attempt": "1"})
    runner.join(20)
    assert not runner.is_alive(), "the run waited on the child that ignores SIGTERM"
    assert results[0].reason is ExitReason.CANCELED
    assert time.time() - began < 10
    assert not alive(child)
