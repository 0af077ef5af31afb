"""py> refuses a project module named like a standard library module (Digdag's "duplicate
module name with standard library"), on the host and in a container."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "dockerflow"]
IMAGE = "dockerflow/python:latest"


def run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + list(args), cwd=project, capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, HOME=str(project / "home")))


def project(tmp_path: Path, export: str = "") -> Path:
    (tmp_path / "tokenize.py").write_text("def main():\n    open('mine.txt', 'w').write('mine')\n")
    (tmp_path / "tasks.py").write_text("import tokenize\n\n"
                                       "def ok():\n    open('ok.txt', 'w').write(tokenize.__name__)\n")
    (tmp_path / "wf.dig").write_text(f"{export}+ok:\n  py>: tasks.ok\n"
                                     "+clash:\n  py>: tokenize.main\n")
    return tmp_path


def check_refused(r: subprocess.CompletedProcess[str], tmp_path: Path) -> None:
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "py> tokenize.main: the project's tokenize.py has the name of a standard library" in out
    assert "duplicate module name with standard library" in out and "rename tokenize.py" in out
    assert "(ModuleNameClash)" in out and "Traceback" not in out
    assert (tmp_path / "ok.txt").read_text() == "tokenize"  # other modules still run
    assert not (tmp_path / "mine.txt").exists()


def test_refused_on_the_host(tmp_path: Path) -> None:
    r = run(project(tmp_path), "run", "wf.dig")
    check_refused(r, tmp_path)


@pytest.mark.docker
def test_refused_in_a_container(runner_images: None, tmp_path: Path) -> None:
    r = run(project(tmp_path, f"_export:\n  docker:\n    image: {IMAGE}\n"), "run", "wf.dig")
    check_refused(r, tmp_path)
    assert "[+wf+ok] started" in r.stdout
