#!/usr/bin/env python3
"""Per-task overhead of coordinating through PostgreSQL with one external worker.

    python bench/workers.py [--tasks 200] [--rounds 3]

N sequential host `sh>: true` tasks, run two ways, alternating ROUNDS times in one benchmark
run, each timed as a whole `dockerflow run`:
  local      `dockerflow run` in one process (the baseline)
  database   `dockerflow run --database postgresql://... --workers 0` with one
             `dockerflow worker` process claiming every task from the database
The per-task overhead is (database - local) / N. The worker is started once and stays up
across rounds, as a real one would. PostgreSQL runs on loopback from tests/pgserver.py.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from pgserver import PostgresServer  # noqa: E402 - the test helper that starts PostgreSQL

CLI = [sys.executable, "-m", "dockerflow"]


def workflow(n: int) -> str:
    return "".join(f"+t{i}:\n  sh>: true\n" for i in range(n))


def timed_run(project: Path, *extra: str) -> float:
    start = time.perf_counter()
    r = subprocess.run(CLI + ["run", "wf.dig", "--rerun", "--session", "2024-03-05", *extra],
                       cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f"dockerflow run {' '.join(extra)} failed:\n{r.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = PostgresServer()
    worker = None
    try:
        url = server.create_database("bench")
        with tempfile.TemporaryDirectory() as d:
            project = Path(d)
            (project / "wf.dig").write_text(workflow(args.tasks))
            worker = subprocess.Popen(CLI + ["worker", "--database", url],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            timed_run(project, "--database", url, "--workers", "0")  # warm-up: schema, caches
            local: list[float] = []
            remote: list[float] = []
            for _ in range(args.rounds):
                local.append(timed_run(project))
                remote.append(timed_run(project, "--database", url, "--workers", "0"))
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        server.stop()
    n = args.tasks
    lo, re_ = statistics.median(local), statistics.median(remote)
    print(f"| {n} sequential host tasks, {args.rounds} alternating rounds (median) | local run"
          " | through PostgreSQL + 1 worker | overhead per task |")
    print("|---|---:|---:|---:|")
    print(f"| wall time | {lo:.2f} s | {re_:.2f} s | {(re_ - lo) / n * 1000:.1f} ms |")
    print(f"| per task | {lo / n * 1000:.1f} ms | {re_ / n * 1000:.1f} ms | |")


if __name__ == "__main__":
    main()
