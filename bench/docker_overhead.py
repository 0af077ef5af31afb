#!/usr/bin/env python3
"""Container overhead of the engine, against the Docker SDK alone.

    python bench/docker_overhead.py [--rounds 3] [--tasks 50] [--parallel 20]

1. `dockerflow run` of N sequential containerised `sh>` tasks, against a raw Docker SDK loop
   (create, start, wait, logs, remove) of the same N containers; the two alternate, ROUNDS
   times, in one benchmark run. Both are timed as whole programs (a Python process each);
   the ratio is total engine time / total raw time.
2. M `_parallel` container tasks of `sleep 1`: wall time of `dockerflow run`.

Needs a Docker engine and the image dockerflow/debian-base:bookworm (`dockerflow images build`).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker

IMAGE = "dockerflow/debian-base:bookworm"
CLI = [sys.executable, "-m", "dockerflow"]


def sequential_workflow(n: int) -> str:
    tasks = "".join(f"+t{i}:\n  sh>: echo task {i}\n" for i in range(n))
    return f"_export:\n  docker:\n    image: {IMAGE}\n{tasks}"


def parallel_workflow(n: int) -> str:
    tasks = "".join(f"  +t{i}:\n    sh>: sleep 1\n" for i in range(n))
    return f"_export:\n  docker:\n    image: {IMAGE}\n+p:\n  _parallel: true\n{tasks}"


def run_engine(project: Path, dig: str) -> float:
    start = time.perf_counter()
    r = subprocess.run(CLI + ["run", dig, "--rerun", "--session", "2024-03-05"], cwd=project,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f"dockerflow run failed:\n{r.stderr[-2000:]}")
    return seconds


RAW_LOOP = """
import os, sys, docker
image, project, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
client = docker.from_env()
for i in range(n):
    c = client.containers.create(
        image, ["/bin/sh", "-c", "echo task %d" % i], working_dir=project,
        volumes={project: {"bind": project, "mode": "rw"}},
        user="%d:%d" % (os.getuid(), os.getgid()), network_mode="host", init=True)
    c.start()
    c.wait()
    c.logs()
    c.remove(force=True)
"""


def run_raw(project: Path, n: int) -> float:
    """A hand-written SDK program doing the same containers (dockerflow's defaults: host
    network, an init process, the invoking user, the project mounted), timed as a whole run
    like `dockerflow run`: interpreter start, imports and all."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", RAW_LOOP, IMAGE, str(project), str(n)], check=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tasks", type=int, default=50)
    ap.add_argument("--parallel", type=int, default=20)
    a = ap.parse_args()
    client = docker.from_env()
    client.images.get(IMAGE)
    with tempfile.TemporaryDirectory() as d:
        project = Path(d)
        (project / "seq.dig").write_text(sequential_workflow(a.tasks))
        (project / "par.dig").write_text(parallel_workflow(a.parallel))
        run_engine(project, "seq.dig")  # warm-up: caches, page cache
        engine, raw = [], []
        for r in range(a.rounds):
            engine.append(run_engine(project, "seq.dig"))
            raw.append(run_raw(project, a.tasks))
            print(f"round {r + 1}: dockerflow {engine[-1]:.2f} s, raw SDK {raw[-1]:.2f} s",
                  file=sys.stderr, flush=True)
        par = [run_engine(project, "par.dig") for _ in range(a.rounds)]
    ratio = sum(engine) / sum(raw)
    print("\n| benchmark | dockerflow | raw Docker SDK | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| {a.tasks} sequential `sh>` containers, {a.rounds} alternating rounds (total) |"
          f" {sum(engine):.2f} s | {sum(raw):.2f} s | {ratio:.3f} |")
    print(f"| {a.parallel} `_parallel` containers of `sleep 1` (best / worst of {a.rounds}) |"
          f" {min(par):.2f} s / {max(par):.2f} s | | |")


if __name__ == "__main__":
    main()
