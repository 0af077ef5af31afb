"""Validation (`dockerflow check`, `graph`, the SDK) never imports the execution side; the
coordinator of an attempt imports no executor or operator, the worker no store.

Each check runs in a fresh interpreter, so that what other tests imported does not count.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

EXECUTION = ("dockerflow.operators", "dockerflow.executors", "dockerflow.runtime", "docker")



def report(forbidden: tuple[str, ...]) -> str:
    return f"""
import sys
bad = sorted(m for m in sys.modules
             if any(m == p or m.startswith(p + ".") for p in {forbidden!r}))
print("imported:", bad)
assert not bad, bad
"""


def _run(code: str, cwd: Path | None = None, forbidden: tuple[str, ...] = EXECUTION) -> None:
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code) + report(forbidden)],
                       cwd=cwd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_coordinator_knows_no_executor_and_the_worker_no_store() -> None:
    _run("import dockerflow.runtime.coordinator",
         forbidden=("dockerflow.executors", "dockerflow.operators", "dockerflow.runtime.worker",
                    "dockerflow.runtime.queue", "docker"))
    _run("import dockerflow.runtime.worker",
         forbidden=("dockerflow.store", "dockerflow.runtime.coordinator",
                    "dockerflow.runtime.queue", "docker"))


def test_validation_modules_import_no_execution_module() -> None:
    _run("""
        import dockerflow.cli.check_cmd
        import dockerflow.cli.graph_cmd
        import dockerflow.dig.workflow
        import dockerflow.sdk
    """)


def test_check_and_sdk_validate_a_project_without_the_execution_side(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "child.dig").write_text("+hi:\n  echo>: child\n")
    (tmp_path / "main.dig").write_text(textwrap.dedent("""\
        +each:
          for_each>:
            n: [1, 2]
          _do:
            sh>: echo ${n}
        +call:
          call>: sub/child
        +web:
          http>: https://example.com/
          method: GET
        +py:
          py>: tasks.run
        +wait:
          wait>: 1s
    """))
    _run("""
        from click.testing import CliRunner

        from dockerflow.cli.check_cmd import check
        from dockerflow.cli.graph_cmd import graph
        from dockerflow.sdk import read_dig

        for command in (check, graph):
            result = CliRunner().invoke(command, ["main"])
            assert result.exit_code == 0, result.output
        read_dig("main.dig")
    """, cwd=tmp_path)
