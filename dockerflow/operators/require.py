"""require>: make sure another workflow of the project ran for a session.

The operator only checks its options and names the attempt it needs (WaitForAttempt); the
coordinator's launcher runs or finds that attempt, and the task ends with it, holding no
worker meanwhile."""

from __future__ import annotations

from typing import ClassVar

from dockerflow.dig.operator_options import OPERATOR_OPTIONS
from dockerflow.errors import TaskFailure
from dockerflow.graph.task import TaskResult
from dockerflow.operators.base import OperatorContext, WaitForAttempt

RERUN_ON = ("none", "failed", "all")


class RequireOperator:
    name: ClassVar[str] = "require"
    retryable: ClassVar[bool] = True
    inline: ClassVar[bool] = False
    options: ClassVar[frozenset[str]] = OPERATOR_OPTIONS["require"]

    def run(self, ctx: OperatorContext) -> TaskResult:
        target = ctx.command
        if not isinstance(target, str) or not target:
            raise TaskFailure("require> needs a workflow name")
        if ctx.config.get("project_id") is not None or ctx.config.get("project_name") is not None:
            raise TaskFailure("require> of another project needs a dockerflow server; locally,"
                              " only workflows of this project can be required")
        rerun_on = str(ctx.option("rerun_on") or "none")
        if rerun_on not in RERUN_ON:
            raise TaskFailure(f"require> rerun_on must be one of {', '.join(RERUN_ON)},"
                              f" got {rerun_on!r}")
        params = ctx.option("params") or {}
        if not isinstance(params, dict):
            raise TaskFailure("require> params must be a map")
        session_time = ctx.config.get("session_time")
        raise WaitForAttempt(target, str(session_time) if session_time else None, dict(params),
                             rerun_on, ctx.option("ignore_failure") is True)
