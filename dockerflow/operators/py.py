"""py>: call a Python function or method in a subprocess (or container) through the runner."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from dockerflow.dig.operator_options import OPERATOR_OPTIONS
from dockerflow.errors import TaskFailure
from dockerflow.graph.task import TaskResult
from dockerflow.operators.base import OperatorContext
from dockerflow.operators.sh import task_env


class PyOperator:
    name: ClassVar[str] = "py"
    retryable: ClassVar[bool] = True
    inline: ClassVar[bool] = False
    options: ClassVar[frozenset[str]] = OPERATOR_OPTIONS["py"]

    def run(self, ctx: OperatorContext) -> TaskResult:
        command = ctx.command
        if not isinstance(command, str) or not command.strip():
            raise TaskFailure("py> needs a function name like 'tasks.run' or 'tasks.Job.step'")
        python = ctx.option("python") or "python3"
        argv = [python] if isinstance(python, str) else [str(p) for p in python]
        in_file = ctx.io_dir / "input.json"
        out_file = ctx.io_dir / "output.json"
        out_file.unlink(missing_ok=True)
        in_file.write_text(json.dumps({"command": command.strip(), "params": ctx.params},
                                      ensure_ascii=False, default=str), encoding="utf-8")
        runner = ctx.taskside / "runner.py"
        result = ctx.execute([*argv, str(runner), str(in_file), str(out_file)], task_env(ctx),
                             needs_python=True)
        output = _read(out_file)
        if result.exit_code != 0:
            msg = f"Python command failed with code {result.exit_code}"
            err = output.get("error") if output else None
            if err:
                msg += f"\nError messages from python: {err.get('message')} ({err.get('class')})"
            elif result.message:
                msg += f": {result.message}"
            raise TaskFailure(msg)
        if output is None:
            raise TaskFailure(f"py> finished without writing {out_file.name}: the runner did not"
                              " complete (was the task killed?)")
        return TaskResult(store=output.get("store") or {}, export=output.get("export") or {},
                          subtask_config=output.get("subtask_config") or None)


def _read(path: Any) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as e:
        raise TaskFailure(f"py> wrote an unreadable {path}: {e}") from None
    return value if isinstance(value, dict) else None
