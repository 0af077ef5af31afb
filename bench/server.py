#!/usr/bin/env python3
"""The server under load: N attempts of a workflow of M container tasks started at once.

    python bench/server.py [--attempts 50] [--tasks 10] [--host]

A `dockerflow server` (SQLite, its own workers) gets the project pushed, then N attempts are
started together (PUT /api/attempts, N sessions); while they run, a reader polls
GET /api/attempts and GET /api/attempts/{id} and times each answer. Reported: the wall time
until every attempt succeeded, attempts and tasks per second, and the API's p50 / p99
latency under that load. The baseline, in the same run: `dockerflow run` of one workflow
doing the same work (a _parallel group of N sequences of M tasks) in one process.
--host runs the tasks on the host instead of in containers.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from dockerflow.archive import pack_project  # noqa: E402

CLI = [sys.executable, "-m", "dockerflow"]
IMAGE = "dockerflow/debian-base:bookworm"


def header(host: bool) -> str:
    return "" if host else f"_export:\n  docker:\n    image: {IMAGE}\n"


def sequence(tasks: int, indent: str = "") -> str:
    return "".join(f"{indent}+t{i}:\n{indent}  sh>: echo {i}\n" for i in range(tasks))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run_server(folder: Path, attempts: int, tasks: int, host: bool) -> tuple[float, list[float]]:
    project = folder / "project"
    project.mkdir()
    (project / "wf.dig").write_text(header(host) + sequence(tasks))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(folder / "server.log", "w")
    server = subprocess.Popen(CLI + ["server", "--port", str(port), "--database",
                                     f"sqlite:///{folder / 'server.db'}", "--work-dir",
                                     str(folder / "work")],
                              stdout=log, stderr=subprocess.STDOUT,
                              env=dict(os.environ, HOME=str(folder)))
    http = httpx.Client(base_url=url, timeout=60)
    try:
        deadline = time.time() + 60
        while True:
            try:
                http.get("/api/version")
                break
            except httpx.HTTPError:
                if time.time() > deadline:
                    raise SystemExit("the server did not start: see " + str(folder / "server.log"))
                time.sleep(0.1)
        r = http.put("/api/projects", params={"project": "bench", "revision": "r1"},
                     content=pack_project(project), headers={"Content-Type": "application/gzip"})
        r.raise_for_status()
        wid = http.get(f"/api/projects/{r.json()['id']}/workflows/wf").json()["id"]
        base = datetime(2024, 1, 1, tzinfo=timezone.utc)
        latencies: list[float] = []
        done = threading.Event()
        ids: list[str] = []

        def reader() -> None:
            with httpx.Client(base_url=url, timeout=60) as reader_http:
                while not done.is_set():
                    for path in ["/api/attempts"] + [f"/api/attempts/{i}" for i in ids[-3:]]:
                        began = time.perf_counter()
                        reader_http.get(path).raise_for_status()
                        latencies.append(time.perf_counter() - began)

        started = time.perf_counter()
        watcher = threading.Thread(target=reader, daemon=True)
        watcher.start()
        for n in range(attempts):
            session = (base + timedelta(hours=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
            r = http.put("/api/attempts", json={"workflowId": wid, "sessionTime": session, "params": {}})
            r.raise_for_status()
            ids.append(r.json()["id"])
        pending = set(ids)
        while pending:
            for attempt_id in list(pending):
                attempt = http.get(f"/api/attempts/{attempt_id}").json()
                if attempt["done"]:
                    if not attempt["success"]:
                        raise SystemExit(f"attempt {attempt_id} failed: see {folder / 'server.log'}")
                    pending.discard(attempt_id)
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        done.set()
        watcher.join()
        return seconds, latencies
    finally:
        http.close()
        server.terminate()
        server.wait(60)


def run_local(folder: Path, attempts: int, tasks: int, host: bool) -> float:
    project = folder / "local"
    project.mkdir()
    groups = "".join(f"  +s{n}:\n{sequence(tasks, '    ')}" for n in range(attempts))
    (project / "wf.dig").write_text(header(host) + "+all:\n  _parallel: true\n" + groups)
    started = time.perf_counter()
    r = subprocess.run(CLI + ["run", "wf.dig", "--session", "2024-01-01", "--rerun"], cwd=project,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if r.returncode != 0:
        raise SystemExit(f"the local run failed:\n{r.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--attempts", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--host", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        local = run_local(folder, args.attempts, args.tasks, args.host)
        server, latencies = run_server(folder, args.attempts, args.tasks, args.host)
    total = args.attempts * args.tasks
    where = "host" if args.host else "container"
    print(f"| {args.attempts} attempts of {args.tasks} {where} tasks at once | server | local run"
          " (one attempt, same tasks) |")
    print("|---|---:|---:|")
    print(f"| wall time | {server:.1f} s | {local:.1f} s |")
    print(f"| tasks per second | {total / server:.1f} | {total / local:.1f} |")
    print(f"| attempts per second | {args.attempts / server:.2f} | |")
    print(f"| API latency under load, p50 / p99 ({len(latencies)} requests) |"
          f" {statistics.median(latencies) * 1000:.0f} ms / {percentile(latencies, 99) * 1000:.0f} ms | |")


if __name__ == "__main__":
    main()
