"""Models to `.dig` text: `to_dig(workflow)`.

Keys are written in one canonical order, whatever order the model was built in:

    workflow   timezone, schedule, sla, _export, _cache, _parallel, _retry, _error, _check,
               +tasks
    group      _background, _after, _parallel, _retry, _disable, timezone, _export, _env,
               _secrets, _cache, _error, _check, +tasks
    operator   op>, typed options, other options (as given), _background, _after, _parallel,
               _retry, _disable, _export, _env, _secrets, _cache, _do, _else_do, _error, _check

Task order, option order inside `options` and key order inside `_export` (or any value) are
kept as given: they can matter.  Writing never changes the models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from dockerflow.sdk.emitter import dump
from dockerflow.sdk.schedule import ScheduleBase
from dockerflow.sdk.tasks import Group, Operator, OperatorTask, TaskBase
from dockerflow.sdk.values import dig_key, is_expr, plain_data
from dockerflow.sdk.workflow import Sla, Workflow

__all__ = ["dump_value", "task_config", "to_dig", "workflow_config"]

_TASK_HEAD = ("background", "after", "parallel", "retry", "disable")
_TASK_DATA = ("export", "env", "secrets", "cache")
_TASK_HOOKS = ("error", "check")


def to_dig(workflow: Workflow) -> str:
    """The `.dig` text of `workflow` (Digdag's YAML dialect; same bytes every time)."""
    if not isinstance(workflow, Workflow):
        raise TypeError(f"to_dig() takes a dockerflow.sdk.Workflow, not"
                        f" {type(workflow).__name__}")
    return dump(workflow_config(workflow))


dump_value = plain_data
"""A field value as plain data (values.plain_data, which this module teaches the `.dig` form
of tasks, workflows, schedules and `sla`)."""


def _put(out: dict[str, Any], model: BaseModel, names: tuple[str, ...]) -> None:
    fields = type(model).model_fields
    for name in names:
        if name in fields and (value := getattr(model, name)) is not None:
            out[dig_key(name)] = dump_value(value)


def _children(out: dict[str, Any], tasks: Sequence[Any]) -> None:
    for task in tasks:
        out["+" + task.name] = task_config(task)


def workflow_config(workflow: Workflow) -> dict[str, Any]:
    """The mapping written for a workflow (before YAML formatting)."""
    out: dict[str, Any] = {}
    _put(out, workflow, ("timezone", "schedule", "sla", "export", "cache", "parallel",
                         "retry", "error", "check"))
    _children(out, workflow.tasks)
    return out


def task_config(task: TaskBase) -> dict[str, Any]:
    """The mapping written for one task (without its `+name` key)."""
    out: dict[str, Any] = {}
    if isinstance(task, Group):
        _put(out, task, (*_TASK_HEAD, "timezone", *_TASK_DATA, *_TASK_HOOKS))
        _children(out, task.tasks)
        return out
    assert isinstance(task, OperatorTask)
    if isinstance(task, Operator) and is_expr(task.type):
        out["_type"] = task.type  # an evaluated operator name keeps the _type form
        if task.command is not None:
            out["_command"] = dump_value(task.command)
    else:
        out[_op_name(task) + ">"] = dump_value(task.command_value())
    keys = task.option_keys()
    _put(out, task, tuple(keys.values()))
    for key, value in task.options.items():
        out[key] = dump_value(value)
    _put(out, task, (*_TASK_HEAD, *_TASK_DATA, "do", "else_do", *_TASK_HOOKS))
    return out


def _op_name(task: OperatorTask) -> str:
    return task.type if isinstance(task, Operator) else task.OP


def _schedule(schedule: ScheduleBase) -> dict[str, Any]:
    out: dict[str, Any] = {schedule.KIND + ">": schedule.value}
    for name in ("start", "end", "skip_on_overtime", "skip_delayed_by", "delay"):
        if (value := getattr(schedule, name)) is not None:
            out[name] = value
    return out


def _sla(sla: Sla) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, sla, ("time", "duration", "alert", "fail"))
    _children(out, sla.tasks)
    return out


plain_data.register(TaskBase, task_config)
plain_data.register(Workflow, workflow_config)
plain_data.register(ScheduleBase, _schedule)
plain_data.register(Sla, _sla)
