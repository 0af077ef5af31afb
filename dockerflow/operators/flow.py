"""Operators that generate child tasks: call>, if>, loop>, for_each>, for_range>."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

from dockerflow.dig.operator_options import OPERATOR_OPTIONS
from dockerflow.errors import TaskFailure
from dockerflow.graph.task import TaskResult
from dockerflow.operators.base import OperatorContext

CALL_DROPS = ("timezone", "schedule", "sla")


class CallOperator:
    name: ClassVar[str] = "call"
    retryable: ClassVar[bool] = True
    inline: ClassVar[bool] = True
    options: ClassVar[frozenset[str]] = OPERATOR_OPTIONS["call"]

    def run(self, ctx: OperatorContext) -> TaskResult:
        target = ctx.command
        if not isinstance(target, str) or not target:
            raise TaskFailure("call> needs a workflow file name")
        if ctx.load_call is None:
            raise TaskFailure("call> can't run here: the engine gave it no way to find workflow"
                              " files (OperatorContext.load_call)")
        path = ctx.load_call(target)
        if not path.is_file():
            raise TaskFailure(f"call> target '{target}' does not exist (looked for {path})")
        config = {k: v for k, v in ctx.load_config(path).items() if k not in CALL_DROPS}
        sub_dir = path.resolve().parent
        try:
            workdir = sub_dir.relative_to(ctx.project_dir.resolve()).as_posix()
        except ValueError:
            raise TaskFailure(f"call> target {path} is outside the project folder") from None
        workdir = "" if workdir == "." else workdir
        if workdir != (ctx.params.get("_workdir") or ""):
            export = dict(config.get("_export") or {})
            export["_workdir"] = workdir
            config["_export"] = export
        return TaskResult(subtask_config=config)


def _bool(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip() in ("true", "false"):
        return value.strip() == "true"
    raise TaskFailure(f"{what} must be true or false, got {value!r}")


class IfOperator:
    name: ClassVar[str] = "if"
    retryable: ClassVar[bool] = False
    inline: ClassVar[bool] = True
    options: ClassVar[frozenset[str]] = OPERATOR_OPTIONS["if"]

    def run(self, ctx: OperatorContext) -> TaskResult:
        branch = "_do" if _bool(ctx.command, "if>") else "_else_do"
        body = ctx.config.get(branch)
        if body is None:
            return TaskResult()
        return TaskResult(subtask_config=dict(body))


def _child(body: Any, export: dict[str, Any]) -> dict[str, Any]:
    config = dict(body) if isinstance(body, Mapping) else {}
    merged = dict(config.get("_export") or {})
    merged.update(export)
    config["_export"] = merged
    return config


def _body_size(body: Any) -> int:
    """Tasks one copy of a `_do` body makes: its group and every +task below it."""
    total, stack = 0, [body]
    while stack:
        node = stack.pop()
        total += 1
        if isinstance(node, Mapping):
            stack.extend(v for k, v in node.items() if isinstance(k, str) and k.startswith("+"))
    return total


def _check_count(ctx: OperatorContext, count: int, what: str) -> None:
    """Refuse before any child exists: `count` copies of the body must fit in --max-tasks."""
    total = count * _body_size(ctx.config.get("_do"))
    if total > ctx.max_tasks:
        raise TaskFailure(f"Too many {what} subtasks: {count:,} iterations would make {total:,}"
                          f" tasks. Limit: {ctx.max_tasks:,} (--max-tasks)")


def _loop_group(ctx: OperatorContext, children: list[tuple[str, dict[str, Any]]],
                what: str) -> TaskResult:
    config: dict[str, Any] = {}
    parallel = ctx.config.get("_parallel")
    if parallel is not None:
        if isinstance(parallel, str) and parallel.strip().startswith("{"):
            parallel = json.loads(parallel)
        config["_parallel"] = parallel
    body = ctx.config["_do"]
    for name, export in children:
        config[name] = _child(body, export)
    return TaskResult(subtask_config=config)


def _int(value: Any, what: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise TaskFailure(f"{what} must be an integer, got {value!r}") from None


class LoopOperator:
    name: ClassVar[str] = "loop"
    retryable: ClassVar[bool] = False
    inline: ClassVar[bool] = True
    options: ClassVar[frozenset[str]] = OPERATOR_OPTIONS["loop"]

    def run(self, ctx: OperatorContext) -> TaskResult:
        count = ctx.command if ctx.command is not None else ctx.config.get("count")
        n = _int(count, "loop> count")
        if n < 0:
            raise TaskFailure(f"loop> count must not be negative, got {n}")
        _check_count(ctx, n, "loop")
        return _loop_group(ctx, [(f"+loop-{i}", {"i": i}) for i in range(n)], "loop")


def _json_or(value: Any, what: str) -> Any:
    """A value given directly, or as JSON text (e.g. from `${...}`)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise TaskFailure(f"{what}: {value!r} is neither a list/map nor JSON text") from None
    return value


def _name_part(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return quote(text[:8], safe="").replace("~", "%7E").replace("*", "%2A")


class ForEachOperator:
    name: ClassVar[str] = "for_each"
    retryable: ClassVar[bool] = False
    inline: ClassVar[bool] = True
    options: ClassVar[frozenset[str]] = OPERATOR_OPTIONS["for_each"]

    def run(self, ctx: OperatorContext) -> TaskResult:
        spec = _json_or(ctx.command, "for_each>")
        if not isinstance(spec, Mapping):
            raise TaskFailure("for_each> needs a map of key: [values]")
        keys = list(spec)
        lists = []
        for k in keys:
            values = _json_or(spec[k], f"for_each> values of '{k}'")
            if not isinstance(values, list):
                raise TaskFailure(f"for_each> values of '{k}' must be a list")
            lists.append(values)
        _check_count(ctx, math.prod(len(v) for v in lists) if lists else 0, "for_each")
        children = []
        for combo in itertools.product(*[list(enumerate(v)) for v in lists]):
            name = "+for-" + "&".join(f"{ki}={_name_part(k)}={vi}={_name_part(v)}"
                                      for ki, (k, (vi, v)) in enumerate(zip(keys, combo)))
            children.append((name, {k: v for k, (_, v) in zip(keys, combo)}))
        return _loop_group(ctx, children, "for_each")


class ForRangeOperator:
    name: ClassVar[str] = "for_range"
    retryable: ClassVar[bool] = False
    inline: ClassVar[bool] = True
    options: ClassVar[frozenset[str]] = OPERATOR_OPTIONS["for_range"]

    def run(self, ctx: OperatorContext) -> TaskResult:
        spec = _json_or(ctx.command, "for_range>")
        if not isinstance(spec, Mapping):
            raise TaskFailure("for_range> needs {from: N, to: M, step: S} or slices: K")
        start, end = _int(spec.get("from"), "for_range> from"), _int(spec.get("to"), "for_range> to")
        if ("step" in spec) == ("slices" in spec):
            raise TaskFailure("for_range> needs exactly one of 'step' or 'slices'")
        if "step" in spec:
            step = _int(spec["step"], "for_range> step")
        else:
            slices = _int(spec["slices"], "for_range> slices")
            if slices < 1:
                raise TaskFailure("for_range> slices must be at least 1")
            step = math.ceil((end - start) / slices)
        if step < 1:
            raise TaskFailure("for_range> step must be at least 1")
        _check_count(ctx, len(range(start, end, step)), "for_range")
        children = []
        index = 0
        for lo in range(start, end, step):
            hi = min(lo + step, end)
            children.append((f"+range-from={lo}&to={hi}",
                             {"range": {"from": lo, "to": hi, "index": index}}))
            index += 1
        return _loop_group(ctx, children, "for_range")
