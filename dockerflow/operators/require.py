"""require>: make sure another workflow of the project ran for a session (local mode)."""

from __future__ import annotations

from typing import ClassVar

from dockerflow.errors import TaskFailure
from dockerflow.graph.task import TaskResult
from dockerflow.operators.base import OperatorContext

RERUN_ON = ("none", "failed", "all")


class RequireOperator:
    name: ClassVar[str] = "require"
    retryable: ClassVar[bool] = True
    inline: ClassVar[bool] = False
    options: ClassVar[frozenset[str]] = frozenset({
        "session_time", "params", "rerun_on", "ignore_failure", "project_id", "project_name",
        "retry_attempt_name"})

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
        if ctx.require is None:
            raise TaskFailure("require> is not available here")
        session_time = ctx.config.get("session_time")
        ok, session_id, attempt_id = ctx.require(target, str(session_time) if session_time
                                                 else None, dict(params), rerun_on)
        ctx.output(f"required {target}: session {session_id}, attempt {attempt_id},"
                   f" {'success' if ok else 'failed'}")
        if not ok and ctx.option("ignore_failure") is not True:
            raise TaskFailure(f"Dependent workflow failed. Session id: {session_id},"
                              f" attempt id: {attempt_id}")
        return TaskResult()
