"""sh>: run a shell script; params arrive as environment variables."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, ClassVar

from dockerflow.dig.operator_options import OPERATOR_OPTIONS
from dockerflow.errors import TaskFailure
from dockerflow.graph.task import TaskResult
from dockerflow.operators.base import OperatorContext, failure_from
from dockerflow.operators.simple import text_of

IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
OUTPUT_VAR = "DOCKERFLOW_OUTPUT"
# Engine settings that must not leak into a task's environment.
NOT_ENV = frozenset({"docker"})


def env_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def params_env(params: dict[str, Any]) -> dict[str, str]:
    return {k: env_value(v) for k, v in params.items()
            if k not in NOT_ENV and IDENT_RE.match(k) and v is not None}


def task_env(ctx: OperatorContext) -> dict[str, str]:
    """`_env` entries of the task (evaluated)."""
    env = ctx.config.get("_env") or {}
    return {str(k): text_of(ctx.secrets.resolve(v)) for k, v in env.items()}


def read_output_file(path: Path) -> dict[str, Any]:
    """KEY=VALUE lines or one JSON object written to $DOCKERFLOW_OUTPUT."""
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            raise TaskFailure(f"${OUTPUT_VAR} holds invalid JSON: {e}") from None
        if not isinstance(value, dict):
            raise TaskFailure(f"${OUTPUT_VAR} must hold a JSON object")
        return value
    out: dict[str, Any] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not IDENT_RE.match(key.strip()):
            raise TaskFailure(f"${OUTPUT_VAR} line {n} is not KEY=VALUE: {line!r}")
        out[key.strip()] = value
    return out


class ShOperator:
    name: ClassVar[str] = "sh"
    retryable: ClassVar[bool] = True
    inline: ClassVar[bool] = False
    options: ClassVar[frozenset[str]] = OPERATOR_OPTIONS["sh"]

    def run(self, ctx: OperatorContext) -> TaskResult:
        script = ctx.io_dir / "runner.sh"
        script.write_text(text_of(ctx.secrets.resolve(ctx.command)) + "\n", encoding="utf-8")
        out_file = ctx.io_dir / "output.env"
        out_file.unlink(missing_ok=True)
        shell = ctx.option("shell") or ["/bin/sh"]
        if isinstance(shell, str):
            shell = [shell]
        env = params_env(ctx.params)
        env.update(task_env(ctx))
        env[OUTPUT_VAR] = str(out_file)
        try:
            result = ctx.execute([*map(str, shell), str(script)], env)
        finally:
            if ctx.secrets.used:  # the script holds secret values: don't leave it on disk
                script.unlink(missing_ok=True)
        if result.exit_code != 0:
            raise failure_from(result)
        return TaskResult(store=read_output_file(out_file))
