#!/usr/bin/env python3
"""Warm containers: N sequential short `sh>` tasks with and without `docker: {reuse: true}`.

    python bench/reuse.py [--rounds 5] [--tasks 20]

`dockerflow run` of the same workflow, once with a new container per task and once with
`reuse: true` (one warm container, a `docker exec` per task); the two alternate, ROUNDS times,
in one benchmark run, each timed as a whole program (interpreter start, imports and all). The
ratio is total time without reuse / total time with it.

Needs a Docker engine and the image dockerflow/debian-base:bookworm (`dockerflow images build`).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker

IMAGE = "dockerflow/debian-base:bookworm"
CLI = [sys.executable, "-m", "dockerflow"]


def workflow(n: int, reuse: bool) -> str:
    tasks = "".join(f"+t{i}:\n  sh>: echo task {i}\n" for i in range(n))
    return f"_export:\n  docker:\n    image: {IMAGE}\n    reuse: {'true' if reuse else 'false'}\n{tasks}"


def run(project: Path, dig: str) -> float:
    start = time.perf_counter()
    r = subprocess.run(CLI + ["run", dig, "--rerun", "--session", "2024-03-05"], cwd=project,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f"dockerflow run {dig} failed:\n{r.stderr[-2000:]}")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--tasks", type=int, default=20)
    a = ap.parse_args()
    client = docker.from_env()
    client.images.get(IMAGE)
    client.close()
    with tempfile.TemporaryDirectory() as d:
        project = Path(d)
        (project / "new.dig").write_text(workflow(a.tasks, reuse=False))
        (project / "warm.dig").write_text(workflow(a.tasks, reuse=True))
        run(project, "new.dig")  # warm-up: caches, page cache
        run(project, "warm.dig")
        new, warm = [], []
        for r in range(a.rounds):
            new.append(run(project, "new.dig"))
            warm.append(run(project, "warm.dig"))
            print(f"round {r + 1}: a container per task {new[-1]:.2f} s, reuse {warm[-1]:.2f} s",
                  file=sys.stderr, flush=True)
    print(f"\n| {a.tasks} sequential `sh>` tasks, {a.rounds} alternating rounds | a container per task"
          " | `reuse: true` | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| total | {sum(new):.2f} s | {sum(warm):.2f} s | {sum(new) / sum(warm):.2f} |")
    print(f"| median run | {statistics.median(new):.2f} s | {statistics.median(warm):.2f} s |"
          f" {statistics.median(new) / statistics.median(warm):.2f} |")


if __name__ == "__main__":
    main()
