#!/usr/bin/env python3
"""Scale of the local engine: a for_each> of N echo> tasks, wall time and peak memory.

    python bench/local_scale.py [N ...]      (default: 10000 50000)

Each size runs `dockerflow run` in a fresh project (with --rerun) and reports the wall time and
the child's peak RSS (getrusage). Prints a Markdown table for the README.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-m", "dockerflow"]


def workflow(n: int) -> str:
    return ("+loop:\n  for_each>:\n    n: " + json.dumps(list(range(n)))
            + "\n  _do:\n    echo>: item ${n}\n")


def measure(n: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as d:
        Path(d, "main.dig").write_text(workflow(n))
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        r = subprocess.run(CLI + ["run", "main.dig", "--session", "2024-03-05", "--rerun"],
                           cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if r.returncode != 0:
            raise SystemExit(f"run of {n} tasks failed:\n{r.stderr[-2000:]}")
        # ru_maxrss of children is the max over all children so far; sizes run in ascending order
        return seconds, max(peak, before) / 1024.0


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 50_000]
    rows = []
    for n in sorted(sizes):
        seconds, mb = measure(n)
        rows.append((n, seconds, mb))
        print(f"{n} tasks: {seconds:.2f} s, peak {mb:.0f} MB", file=sys.stderr, flush=True)
    print(f"\nMachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}\n")
    print("| echo> tasks (for_each>) | wall time | peak memory |")
    print("|---:|---:|---:|")
    for n, seconds, mb in rows:
        print(f"| {n:,} | {seconds:.2f} s | {mb:.0f} MB |")
    if len(rows) >= 2:
        (n0, t0, _), (n1, t1, _) = rows[0], rows[-1]
        print(f"\n{n1:,} / {n0:,} tasks time ratio: {t1 / t0:.2f} (linear would be {n1 / n0:.1f})")


if __name__ == "__main__":
    main()
