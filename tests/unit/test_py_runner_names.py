"""The py> runner (dockerflow/taskside/runner.py) and project modules named like standard ones."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

import dockerflow


def runner() -> ModuleType:
    path = Path(dockerflow.__file__).parent / "taskside" / "runner.py"
    spec = importlib.util.spec_from_file_location("dockerflow_taskside_runner", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("old_python", [False, True])
def test_is_stdlib(monkeypatch: pytest.MonkeyPatch, old_python: bool) -> None:
    r = runner()
    if old_python:  # before 3.10 there is no sys.stdlib_module_names: look in the stdlib folders
        monkeypatch.delattr(sys, "stdlib_module_names")
    for name in ("tokenize", "json", "email", "sys", "_json", "math"):
        assert r.is_stdlib(name), name
    for name in ("tasks", "pytest", "docker", "dockerflow", "digdag"):
        assert not r.is_stdlib(name), name


def test_check_module_name(tmp_path: Path) -> None:
    r = runner()
    r.check_module_name("tokenize.main", str(tmp_path))  # no project file: the standard one runs
    (tmp_path / "tasks.py").write_text("")
    r.check_module_name("tasks.main", str(tmp_path))
    (tmp_path / "tokenize.py").write_text("")
    with pytest.raises(r.ModuleNameClash, match=r"py> tokenize\.main: the project's tokenize\.py"
                       r" has the name of a standard library module.*duplicate module name with"
                       r" standard library.*rename tokenize\.py"):
        r.check_module_name("tokenize.main", str(tmp_path))
    (tmp_path / "email").mkdir()
    r.check_module_name("email.send.run", str(tmp_path))  # a folder is no package: not imported
    (tmp_path / "email" / "__init__.py").write_text("")
    with pytest.raises(r.ModuleNameClash, match="the project's email/ has"):
        r.check_module_name("email.send.run", str(tmp_path))
