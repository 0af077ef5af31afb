"""`pip install` of the wheel works away from the checkout: the runner images ship in it.

A wheel built from (a copy of) the checkout goes into a fresh venv outside the checkout, with
the dependency versions of requirements-lock.txt as constraints; from a folder outside the
checkout that venv's `dockerflow images build` builds dockerflow/python:latest from the
Dockerfiles inside the installed package, and `dockerflow run` runs `sh>` and `py>` tasks in it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from dockerflow.executors.docker_reaper import owner_labels

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "requirements-lock.txt"
# What a build never needs: state, caches and environments (so the checkout is not written to).
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__",
                                    ".*_cache", ".hypothesis", ".dockerflow", "results")

pytestmark = [pytest.mark.docker, pytest.mark.slow]

WORKFLOW = """\
_export:
  docker:
    image: dockerflow/python:latest
  greeting: hello

+shell:
  sh>: echo "${greeting} from sh, home=$HOME, in-container=$(test -f /.dockerenv && echo yes || echo no)" && echo sh-ok > sh.txt

+python:
  py>: tasks.compute

+show:
  echo>: "the answer is ${answer}"
"""

TASKS = """\
import os
import pathlib
import sys

import digdag


def compute(greeting):
    where = "yes" if os.path.exists("/.dockerenv") else "no"
    print(f"{greeting} from py {sys.version_info[0]}, in-container={where}")
    pathlib.Path("py.txt").write_text(f"{greeting} {os.environ['HOME']}\\n")
    digdag.env.store({"answer": 42})
"""


def clean_env(venv: Path) -> dict[str, str]:
    """The environment of a shell with only the fresh venv activated (nothing of the checkout's)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = os.pathsep.join([str(venv / "bin"), *(p for p in env.get("PATH", "").split(os.pathsep)
                                                        if p and not p.startswith(str(REPO)))])
    return env


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"{' '.join(cmd)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
    return result


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv outside the checkout holding the wheel and the locked dependency versions."""
    work = tmp_path_factory.mktemp("wheel-install")
    assert not work.resolve().is_relative_to(REPO.resolve())
    source = work / "source"
    shutil.copytree(REPO, source, ignore=NOT_SOURCE, symlinks=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_NO_CACHE_DIR")}
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work / "dist"), str(source)],
        cwd=work, env=env)
    wheels = sorted((work / "dist").glob("dockerflow-*.whl"))
    assert len(wheels) == 1, wheels
    venv = work / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=work, env=env)
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-c", str(LOCK), str(wheels[0])],
        cwd=work, env=clean_env(venv))
    return venv


def test_the_wheel_ships_the_runner_images(venv: Path, tmp_path: Path) -> None:
    probe = ("import dockerflow, dockerflow.images as i; print(dockerflow.__file__); "
             "print((i.images_dir() / 'python' / 'Dockerfile').read_text().count('FROM ${BASE}'))")
    out = run([str(venv / "bin" / "python"), "-c", probe], cwd=tmp_path, env=clean_env(venv)).stdout.split()
    assert Path(out[0]).is_relative_to(venv), f"dockerflow imported from {out[0]}, not the fresh venv"
    assert out[1] == "1"


def test_installed_cli_builds_the_images_and_runs_tasks_in_them(venv: Path, tmp_path: Path,
                                                                client: docker.DockerClient) -> None:
    env = clean_env(venv)
    cli = str(venv / "bin" / "dockerflow")
    built = run([cli, "images", "build"], cwd=tmp_path, env=env, timeout=1200)
    assert "built dockerflow/python:latest" in built.stdout, built.stdout + built.stderr

    project = tmp_path / "project"
    project.mkdir()
    (project / "wf.dig").write_text(WORKFLOW)
    (project / "tasks.py").write_text(TASKS)
    proc = subprocess.Popen([cli, "run", "wf.dig", "--session", "2024-03-05"], cwd=project, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    labels = owner_labels(proc.pid)
    try:
        out, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out
    assert "hello from sh, home=/tmp/home, in-container=yes" in out
    assert "hello from py 3, in-container=yes" in out
    assert "the answer is 42" in out
    assert (project / "sh.txt").read_text() == "sh-ok\n"
    assert (project / "py.txt").read_text() == "hello /tmp/home\n"
    left = client.api.containers(all=True, filters={"label": [f"{k}={v}" for k, v in labels.items()]})
    assert left == [], f"containers left behind: {[c['Names'] for c in left]}"
