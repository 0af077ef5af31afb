"""The `Workflow` model (one `.dig` file) and its `sla:` block."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from dockerflow.sdk.schedule import Schedule
from dockerflow.sdk.tasks import Task, check_children
from dockerflow.sdk.values import CacheValue, Model, ParallelValue, Params, RetryValue, Timezone

__all__ = ["Sla", "Workflow"]

_HMS = Annotated[str, Field(pattern=r"^[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?$")]


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


_Tasks = Annotated[Sequence[Task], BeforeValidator(_as_tuple)]


class Sla(Model):
    """`sla:`: act when an attempt is still running at a wall-clock `time` or after a
    `duration` (both `HH:MM[:SS]`; exactly one).  `alert` defaults to true, `fail` to false;
    `tasks` run when the SLA fires."""

    time: _HMS | None = None
    duration: _HMS | None = None
    alert: bool | None = None
    fail: bool | None = None
    tasks: _Tasks = ()

    @model_validator(mode="after")
    def _one_trigger(self) -> Sla:
        if (self.time is None) == (self.duration is None):
            raise ValueError("sla needs exactly one of time and duration")
        check_children(self.tasks, False, "sla")
        return self


_FORBIDDEN_FIRST = set('0123456789+^@/\\:*?"<>|.')


def _workflow_name(name: str) -> str:
    if (not name or name[0] in _FORBIDDEN_FIRST or len(name) > 255 or name.endswith(".dig")
            or re.search(r"[/\\\x00-\x1f]", name)):
        raise ValueError(f"invalid workflow name {name!r}: not empty, at most 255 characters,"
                         ' no / or \\, not starting with a digit, a dot or +^@:*?"<>|,'
                         " and without the .dig suffix")
    return name


WorkflowName = Annotated[str, AfterValidator(_workflow_name)]


class Workflow(Model):
    """One workflow: the content of `<name>.dig`.

    The name is the file name without `.dig`; it is not written into the file.
    """

    name: WorkflowName
    timezone: Timezone | None = None
    """Time zone of the session times and schedule; the engine's default is UTC."""
    schedule: Schedule | None = None
    sla: Sla | None = None
    export: Params | None = None
    parallel: ParallelValue | None = None
    retry: RetryValue | None = None
    cache: CacheValue | None = None
    """`_cache` for every task of the workflow (see `Cache`)."""
    check: Task | None = None
    error: Task | None = None
    tasks: _Tasks = ()

    @model_validator(mode="after")
    def _structure(self) -> Workflow:
        check_children(self.tasks, self.parallel, "workflow")
        for key, body in (("_error", self.error), ("_check", self.check)):
            if body is not None and body.name is not None:
                raise ValueError(f"the {key} task has no name of its own;"
                                 f" drop name={body.name!r}")
        return self
