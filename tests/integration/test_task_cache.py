"""`_cache` end to end through `dockerflow run`: a hit runs nothing (no container) and restores
the outputs and stored params; changed inputs, commands or params miss; --no-cache runs;
`dockerflow cache prune`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "dockerflow"]
IMAGE = "dockerflow/debian-base:bookworm"

BUILD = """\
+build:
  _cache:
    inputs: [src/*.txt]
    outputs: [out]
  +upper:
    sh>: mkdir -p out && cat src/*.txt | tr a-z A-Z > out/up.txt && echo ran >> runs.log
      && echo "lines=$(wc -l < out/up.txt)" > $DOCKERFLOW_OUTPUT
  +plain:
    _cache: false
    sh>: echo ran-plain >> plain.log
+show:
  echo>: "lines=${lines} suffix=${suffix}"
"""


def _run(project: Path, name: str, *args: str, env: dict[str, str] | None = None,
         code: int = 0) -> str:
    r = subprocess.run(CLI + ["run", f"{name}.dig", "--session", "2024-03-05", "--rerun", *args],
                       cwd=project, capture_output=True, text=True, timeout=300,
                       env={**os.environ, **(env or {})})
    out = r.stdout + r.stderr
    assert r.returncode == code, out
    assert "Traceback" not in out, out
    return out


def _project(tmp_path: Path, text: str, name: str = "wf") -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("hello\n")
    (tmp_path / f"{name}.dig").write_text(text)
    return tmp_path


def _runs(project: Path) -> int:
    log = project / "runs.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


# -- host tasks --------------------------------------------------------------------------------
def test_host_hit_miss_and_no_cache(tmp_path: Path) -> None:
    t0 = time.monotonic()
    project = _project(tmp_path, BUILD.replace("${suffix}", "x"))
    out = _run(project, "wf")
    assert "[+wf+build+upper] started" in out and "lines=1" in out and _runs(project) == 1
    (project / "out" / "up.txt").unlink()

    out = _run(project, "wf")  # a hit: nothing runs, the output and the stored param are back
    assert "[+wf+build+upper] cached" in out and "[+wf+build+upper] started" not in out
    assert "[+wf+show] lines=1" in out
    assert _runs(project) == 1
    restored = project / "out" / "up.txt"
    assert restored.read_text() == "HELLO\n" and restored.stat().st_uid == os.getuid()
    assert len((project / "plain.log").read_text().splitlines()) == 2  # _cache: false ran twice

    (project / "src" / "b.txt").write_text("more\n")  # a new input file: a miss
    out = _run(project, "wf")
    assert "[+wf+build+upper] started" in out and "lines=2" in out and _runs(project) == 2
    (project / "src" / "b.txt").write_text("changed\n")  # changed content: a miss
    _run(project, "wf")
    assert _runs(project) == 3 and "CHANGED" in restored.read_text()
    (project / "src" / "b.txt").write_text("more\n")  # back to an earlier state: that entry
    out = _run(project, "wf")
    assert "cached" in out and _runs(project) == 3 and "MORE" in restored.read_text()

    _run(project, "wf", "-p", "extra=1")  # a param the task sees: a miss
    assert _runs(project) == 4
    out = _run(project, "wf", "--no-cache")
    assert "[+wf+build+upper] started" in out and _runs(project) == 5
    (project / "wf.dig").write_text(BUILD.replace("tr a-z A-Z", "tr a-z A-Z ").replace(
        "${suffix}", "x"))  # the command changed: a miss
    _run(project, "wf")
    assert _runs(project) == 6
    print(f"host cache test: {time.monotonic() - t0:.1f}s")


PY_TASK = """\
+calc:
  _cache: {inputs: [tasks.py, data.json], outputs: [result.json]}
  py>: tasks.calc
+show:
  echo>: "total=${total}"
"""

PY_CODE = """\
import json
import digdag

def calc():
    data = json.load(open("data.json"))
    with open("runs.log", "a") as f:
        f.write("ran\\n")
    json.dump({"total": sum(data)}, open("result.json", "w"))
    digdag.env.store({"total": sum(data)})
"""


def test_host_py_task_and_prune(tmp_path: Path) -> None:
    (tmp_path / "wf.dig").write_text(PY_TASK)
    (tmp_path / "tasks.py").write_text(PY_CODE)
    (tmp_path / "data.json").write_text("[1, 2, 3]")
    assert "total=6" in _run(tmp_path, "wf")
    (tmp_path / "result.json").unlink()
    out = _run(tmp_path, "wf")
    assert "[+wf+calc] cached" in out and "total=6" in out and _runs(tmp_path) == 1
    assert json.loads((tmp_path / "result.json").read_text()) == {"total": 6}
    (tmp_path / "data.json").write_text("[1, 2, 3, 4]")
    assert "total=10" in _run(tmp_path, "wf") and _runs(tmp_path) == 2

    entries = [p for p in (tmp_path / ".dockerflow" / "cache").iterdir()
               if not p.name.startswith(".")]
    assert len(entries) == 2
    r = subprocess.run(CLI + ["cache", "prune", "--max-size", "1"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "removed 2 entries" in r.stdout, r.stdout + r.stderr
    assert "[+wf+calc] started" in _run(tmp_path, "wf")  # gone: runs again
    r = subprocess.run(CLI + ["cache", "prune", "--all", "--project", str(tmp_path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "removed 1 entry" in r.stdout, r.stdout + r.stderr
    r = subprocess.run(CLI + ["cache", "prune", "--max-size", "lots"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--max-size" in r.stderr


def test_size_limit_zero_stores_nothing(tmp_path: Path) -> None:
    project = _project(tmp_path, BUILD.replace("${suffix}", "x"))
    _run(project, "wf", env={"DOCKERFLOW_CACHE_SIZE": "0"})
    _run(project, "wf", env={"DOCKERFLOW_CACHE_SIZE": "0"})
    assert _runs(project) == 2
    _run(project, "wf", env={"DOCKERFLOW_CACHE_SIZE": "1"})  # larger than the limit: not kept
    assert "cached" not in _run(project, "wf") and _runs(project) == 4


def test_error_and_check_hooks_are_not_cached(tmp_path: Path) -> None:
    (tmp_path / "wf.dig").write_text("""\
+g:
  _cache: {}
  _error:
    sh>: echo ran >> errors.log
  +ok:
    sh>: echo ran >> runs.log
    _check:
      sh>: echo ran >> checks.log
  +bad:
    fail>: boom
""")
    _run(tmp_path, "wf", code=1)
    out = _run(tmp_path, "wf", code=1)
    assert "[+wf+g+ok] cached" in out and _runs(tmp_path) == 1
    assert len((tmp_path / "checks.log").read_text().splitlines()) == 2
    assert len((tmp_path / "errors.log").read_text().splitlines()) == 2


# -- docker tasks ------------------------------------------------------------------------------
def _containers_created(run_label: str, since: float) -> int:
    import docker

    client = docker.from_env()
    try:
        events = client.events(since=int(since), until=int(time.time()) + 1, decode=True,
                               filters={"type": "container", "event": "create",
                                        "label": f"dockerflow.run={run_label}"})
        return sum(1 for _ in events)
    finally:
        client.close()


@pytest.mark.docker
def test_docker_hit_creates_no_container(runner_images: None, tmp_path: Path) -> None:
    name = f"cache{uuid.uuid4().hex[:8]}"
    label = f"{name}@2024-03-05T00:00:00+00:00"
    text = f"_export:\n  docker:\n    image: {IMAGE}\n" + BUILD.replace("${suffix}", "x")
    project = _project(tmp_path, text, name)
    since = time.time() - 1
    _run(project, name)
    assert _containers_created(label, since) == 2  # +upper and +plain
    (project / "out").rename(project / "out.old")

    since = time.time()
    out = _run(project, name)
    assert f"[+{name}+build+upper] cached" in out and "lines=1" in out
    assert _containers_created(label, since) == 1  # only +plain (_cache: false)
    restored = project / "out" / "up.txt"
    assert restored.read_text() == "HELLO\n" and restored.stat().st_uid == os.getuid()
    assert _runs(project) == 1

    (project / "src" / "a.txt").write_text("bye\n")  # an input changed: the container runs
    since = time.time()
    out = _run(project, name)
    assert f"[+{name}+build+upper] started" in out
    assert _containers_created(label, since) == 2 and restored.read_text() == "BYE\n"
    since = time.time()
    _run(project, name, "--no-cache")
    assert _containers_created(label, since) == 2 and _runs(project) == 3


def test_globs_are_evaluated_and_checked_when_the_task_runs(tmp_path: Path) -> None:
    project = _project(tmp_path, """\
+a:
  _cache: {inputs: ["${dir}/*.txt"], outputs: [o.txt]}
  sh>: cat ${dir}/*.txt > o.txt && echo ran >> runs.log
""")
    _run(project, "wf", "-p", "dir=src")
    assert "[+wf+a] cached" in _run(project, "wf", "-p", "dir=src") and _runs(project) == 1
    out = _run(project, "wf", "-p", "dir=/etc", code=1)
    assert "'/etc/*.txt' must be relative to the task's folder" in out and _runs(project) == 1
