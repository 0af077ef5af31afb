"""Operators that need no executor: echo>, fail>, wait>."""

from __future__ import annotations

import time
from typing import ClassVar

from dockerflow.dig.operator_options import OPERATOR_OPTIONS
from dockerflow.errors import TaskFailure
from dockerflow.graph.task import TaskResult
from dockerflow.operators.base import OperatorContext, PollAgain
from dockerflow.timeutil import parse_duration


def text_of(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class EchoOperator:
    name: ClassVar[str] = "echo"
    retryable: ClassVar[bool] = False
    inline: ClassVar[bool] = True
    options: ClassVar[frozenset[str]] = OPERATOR_OPTIONS["echo"]

    def run(self, ctx: OperatorContext) -> TaskResult:
        ctx.output(text_of(ctx.command))
        return TaskResult()


class FailOperator:
    name: ClassVar[str] = "fail"
    retryable: ClassVar[bool] = False
    inline: ClassVar[bool] = True
    options: ClassVar[frozenset[str]] = OPERATOR_OPTIONS["fail"]

    def run(self, ctx: OperatorContext) -> TaskResult:
        raise TaskFailure(text_of(ctx.command) or "fail> was reached")


class WaitOperator:
    name: ClassVar[str] = "wait"
    retryable: ClassVar[bool] = False
    inline: ClassVar[bool] = False
    options: ClassVar[frozenset[str]] = OPERATOR_OPTIONS["wait"]

    def run(self, ctx: OperatorContext) -> TaskResult:
        try:
            seconds = parse_duration(ctx.command)
        except ValueError as e:
            raise TaskFailure(f"wait>: {e}") from None
        blocking = ctx.option("blocking")
        if blocking and "poll_interval" in ctx.config:
            raise TaskFailure("wait>: poll_interval can't be used with blocking: true")
        if blocking:  # holds its worker, as Digdag's blocking wait does
            if ctx.canceled.wait(seconds):
                raise TaskFailure("wait> was canceled")
            return TaskResult()
        state = ctx.poll_state or {}
        until = state.get("until")
        if not isinstance(until, (int, float)):
            until = time.time() + seconds
        if time.time() < until:
            raise PollAgain(until, {"until": until})  # the coordinator wakes it then
        return TaskResult()
