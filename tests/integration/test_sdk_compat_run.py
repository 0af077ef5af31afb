"""digdag-py's README complex example, generated through dockerflow.sdk.compat, runs end to
end with `dockerflow run` (and the examples/sdk project too).  Needs a working CLI."""

from __future__ import annotations

import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sdk"

# A stand-in for the README's main.py: records its arguments, fails on request.
STUB_MAIN = """\
import os, sys
with open("calls.txt", "a") as f:
    f.write(" ".join(sys.argv[1:]) + "\\n")
if os.path.exists("fail-" + sys.argv[1]):
    sys.exit(3)
"""


def cli_env() -> dict[str, str]:
    """The environment for the CLI: `python` on PATH is this interpreter's."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def dockerflow(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockerflow", *args], cwd=cwd, env=cli_env(),
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module", autouse=True)
def cli_starts() -> None:
    r = subprocess.run([sys.executable, "-m", "dockerflow", "run", "--help"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        pytest.skip(f"the dockerflow CLI does not start yet: {r.stderr.strip()[-300:]}")


def write_project(tmp_path: Path) -> None:
    project = runpy.run_path(str(EXAMPLES / "digdag_py_example.py"))["project"]
    project.write(tmp_path)
    (tmp_path / "main.py").write_text(STUB_MAIN)


def uploads(feed: str, special: bool) -> list[str]:
    out = []
    for dest in ("int", "stg", "prod"):
        out.append(f"upload {feed} --source-env prod --destination-env {dest}")
        if special:
            out.append(f"implicit-task --source-env prod --destination-env {dest}")
    return out


@pytest.mark.parametrize("feed", ["first_task", "second_special_task", "third_task"])
def test_generated_workflow_runs(tmp_path: Path, feed: str) -> None:
    write_project(tmp_path)
    r = dockerflow(tmp_path, "run", f"process-task-{feed}.dig", "--session", "2024-03-05")
    assert r.returncode == 0, r.stdout + r.stderr
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert calls == [f"lock-deployment {feed}", f"create {feed} --save",
                     *uploads(feed, feed == "second_special_task"),
                     f"unlock-deployment {feed}"]


def test_error_task_unlocks_after_a_failure(tmp_path: Path) -> None:
    write_project(tmp_path)
    (tmp_path / "fail-upload").touch()
    r = dockerflow(tmp_path, "run", "process-task-first_task.dig", "--session", "2024-03-05")
    assert r.returncode != 0
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert calls == ["lock-deployment first_task", "create first_task --save",
                     "upload first_task --source-env prod --destination-env int",
                     "unlock-deployment first_task"]  # the last one is the _error task


def test_examples_sdk_project_runs(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "generated", tmp_path, dirs_exist_ok=True)
    r = dockerflow(tmp_path, "run", "all_feeds.dig", "--session", "2024-03-05")
    assert r.returncode == 0, r.stdout + r.stderr
    log = (tmp_path / "out" / "customers.log").read_text().splitlines()
    assert sorted(log) == [f"fetched customers from {region} for 2024-03-05"
                           for region in ("apac", "eu", "us")]
    assert "customers: apac done for 2024-03-05" in r.stdout + r.stderr
