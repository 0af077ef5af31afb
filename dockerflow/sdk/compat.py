"""digdag-py's names on top of the SDK: change `from digdagpy.dig.models import ...` (and
`from digdagpy.dig.dig import export_workflow`) to `from dockerflow.sdk.compat import ...`.

Like digdag-py's, these models are mutable builders (`NamedTask.add_task` appends and
returns the task).  `export_workflow` converts them to the SDK's frozen models and writes
those with `to_dig`, so the text is properly quoted, and exporting never changes the objects
(digdag-py renamed the error task while exporting).

What digdag-py meant, and what we write:

* `WorkflowSchedule(daily="21:00:00")` -> `daily>: '21:00:00'`; `cron=CRONSchedule(...)` or
  a cron string -> `cron>:` (cron wins when both are given, as in digdag-py).
* `skip_delayed_by=1`: digdag-py wrote the int as seconds (`skip_delayed_by: 1s`), and left
  it out when it was 0 or None; its default is 1.  A string duration (`"1h"`) is written
  as is.  `skip_on_overtime` defaults to true, as in digdag-py.
* `Workflow.timezone` defaults to `UTC` and is always written.
* `ErrorTask(command=...)` -> `_error: {sh>: ...}`.
* `CommandTask(continue_on_failure=True)` appends `|| :` to the command, as digdag-py did.
* `ParallelTask`, `RepeatableTask` (for_each>), `DependentWorkflow` (require>),
  `EmbeddedTask` (call>), `SimpleRetryCondition`/`IntervalRetryCondition` (_retry) map to
  their SDK models.  digdag-py's Docker image wrapping of commands is not supported (use
  `_export: {docker: ...}` in the SDK).

`Project` (alias `WorkflowProject`) collects workflows with `add_workflow`, as digdag-py's
README uses it, and writes or archives them through `dockerflow.sdk.Project`.
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dockerflow.errors import UserInputError
from dockerflow.sdk import models as sdk
from dockerflow.sdk.project import Project as SdkProject
from dockerflow.sdk.values import Retry
from dockerflow.sdk.writer import to_dig

__all__ = [
    "CRONSchedule",
    "CommandTask",
    "CompatError",
    "DependentWorkflow",
    "EmbeddedTask",
    "ErrorTask",
    "IntervalRetryCondition",
    "NamedTask",
    "ParallelTask",
    "ParallelTaskConfiguration",
    "Project",
    "RepeatableTask",
    "RetryIntervalType",
    "SimpleRetryCondition",
    "Task",
    "Workflow",
    "WorkflowProject",
    "WorkflowSchedule",
    "export_workflow",
    "to_sdk",
]

Value = str | int | float | bool | list[Any] | dict[str, Any] | None


class CompatError(UserInputError):
    """A digdag-py model that cannot be turned into a valid workflow."""


class _Builder(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class RetryIntervalType(enum.StrEnum):
    """`interval_type` of `_retry`."""

    CONSTANT = "constant"
    EXPONENTIAL = "exponential"


class SimpleRetryCondition(_Builder):
    """`_retry: N`."""

    limit: int


class IntervalRetryCondition(SimpleRetryCondition):
    """`_retry: {limit, interval, interval_type}`."""

    interval: int
    interval_type: RetryIntervalType = RetryIntervalType.CONSTANT


class Task(_Builder):
    """Fields every digdag-py task has."""

    exports: dict[str, Value] | None = None
    tasks: list[NamedTask] = Field(default_factory=list)
    retry_condition: IntervalRetryCondition | SimpleRetryCondition | None = None

    def add_task(self, task: NamedTask) -> Any:
        """Append a child task; returns self (so calls can be chained)."""
        self.tasks.append(task)
        return self


class NamedTask(Task):
    """A group of tasks (`+name:` with children)."""

    name: str


class ParallelTaskConfiguration(_Builder):
    """`_parallel: true` or `_parallel: {limit: N}` (the limit wins)."""

    parallel: bool = False
    limit: int | None = None


class ParallelTask(NamedTask):
    """A group whose children run in parallel."""

    configuration: ParallelTaskConfiguration


class RepeatableTask(ParallelTask):
    """`for_each>` over `iterables`, running `tasks` for each combination."""

    name: str = "repeat"
    iterables: dict[str, list[str] | list[int]]


class CommandTask(NamedTask):
    """`sh>: command`."""

    command: str
    continue_on_failure: bool = False


class ErrorTask(CommandTask):
    """The workflow's `_error` command; its name is not used."""

    name: str = "_error"


class DependentWorkflow(NamedTask):
    """`require>: workflow`, in another project when `project` (name or id) is given."""

    workflow: str
    project: str | int | None = None


class EmbeddedTask(NamedTask):
    """`call>: workflow.dig`."""

    workflow: str


class CRONSchedule(_Builder):
    """The five fields of a cron schedule (each defaults to `*`)."""

    minutes: str = "*"
    hours: str = "*"
    day_of_month: str = "*"
    month: str = "*"
    day_of_week: str = "*"

    def to_string(self) -> str:
        """`minutes hours day_of_month month day_of_week`."""
        return " ".join([self.minutes, self.hours, self.day_of_month, self.month,
                         self.day_of_week])


class WorkflowSchedule(_Builder):
    """`schedule:` with `daily>` or `cron>`; `skip_delayed_by` in seconds (int) or as a
    duration string."""

    daily: str | None = None
    cron: CRONSchedule | str | None = None
    skip_delayed_by: int | str | None = 1
    skip_on_overtime: bool = True


class Workflow(NamedTask):
    """A workflow: timezone (default UTC), schedule, error task and tasks."""

    timezone: str = "UTC"
    schedule: WorkflowSchedule | None = None
    error: ErrorTask | None = None


class Project(_Builder):
    """Workflows of one project (digdag-py's `WorkflowProject`)."""

    name: str
    workflows: list[Workflow] = Field(default_factory=list)

    def add_workflow(self, workflow: Workflow) -> Project:
        """Append a workflow; returns self."""
        self.workflows.append(workflow)
        return self

    def to_sdk(self) -> SdkProject:
        """The SDK project (frozen models)."""
        return SdkProject(name=self.name, workflows=tuple(to_sdk(w) for w in self.workflows))

    def write(self, directory: str, *, overwrite: bool = False) -> list[Any]:
        """Write every workflow as `<name>.dig` under `directory` (see `Project.write`)."""
        return self.to_sdk().write(directory, overwrite=overwrite)

    def archive(self) -> bytes:
        """The project as a deterministic tar.gz (see `Project.archive`)."""
        return self.to_sdk().archive()


WorkflowProject = Project


def export_workflow(workflow: Workflow, image: Any = None) -> str:
    """The `.dig` text of a digdag-py workflow."""
    if image is not None:
        raise CompatError("export_workflow(image=...) is not supported; export"
                          " docker: {image: ...} from the workflow with the SDK instead")
    return to_dig(to_sdk(workflow))


def to_sdk(workflow: Workflow) -> sdk.Workflow:
    """The SDK `Workflow` for a digdag-py one (the input is not changed)."""
    return sdk.Workflow(
        name=workflow.name,
        timezone=workflow.timezone,
        schedule=_schedule(workflow.schedule) if workflow.schedule else None,
        export=workflow.exports,
        retry=_retry(workflow.retry_condition),
        error=_error(workflow.error) if workflow.error else None,
        tasks=tuple(_task(t) for t in workflow.tasks),
    )


def _retry(cond: SimpleRetryCondition | None) -> Any:
    if cond is None:
        return None
    if isinstance(cond, IntervalRetryCondition):
        return Retry(limit=cond.limit, interval=cond.interval,
                     interval_type=cond.interval_type.value)
    return cond.limit


def _schedule(s: WorkflowSchedule) -> sdk.Schedule:
    options: dict[str, Any] = {"skip_on_overtime": s.skip_on_overtime}
    if isinstance(s.skip_delayed_by, str):
        options["skip_delayed_by"] = s.skip_delayed_by
    elif s.skip_delayed_by is not None and s.skip_delayed_by > 0:
        options["skip_delayed_by"] = f"{s.skip_delayed_by}s"
    if s.cron is not None:
        expr = s.cron if isinstance(s.cron, str) else s.cron.to_string()
        return sdk.Cron(expression=expr, **options)
    if s.daily is not None:
        return sdk.Daily(at=s.daily, **options)
    raise CompatError("WorkflowSchedule needs daily or cron")


def _common(task: Task) -> dict[str, Any]:
    return {"export": task.exports, "retry": _retry(task.retry_condition)}


def _command(task: CommandTask) -> str:
    return task.command + (" || :" if task.continue_on_failure else "")


def _error(task: ErrorTask) -> sdk.Task:
    if task.tasks:
        raise CompatError("an ErrorTask runs one command; it cannot have tasks")
    return sdk.Sh(command=_command(task), **_common(task))


def _children(task: Task) -> tuple[sdk.Task, ...]:
    return tuple(_task(t) for t in task.tasks)


def _parallel(conf: ParallelTaskConfiguration) -> Any:
    if conf.limit is not None:
        return sdk.ParallelLimit(limit=conf.limit)
    return True if conf.parallel else None


def _task(task: NamedTask) -> sdk.Task:
    common = {"name": task.name, **_common(task)}
    if isinstance(task, (CommandTask, DependentWorkflow, EmbeddedTask)) and task.tasks:
        raise CompatError(f"task {task.name!r} runs an operator, so it cannot have tasks;"
                          " wrap both in a NamedTask")
    if isinstance(task, CommandTask):
        return sdk.Sh(command=_command(task), **common)
    if isinstance(task, DependentWorkflow):
        project: dict[str, Any] = {}
        if isinstance(task.project, str):
            project["project_name"] = task.project
        elif task.project is not None:
            project["project_id"] = task.project
        return sdk.Require(workflow=task.workflow, **project, **common)
    if isinstance(task, EmbeddedTask):
        target = task.workflow if task.workflow.endswith(".dig") else task.workflow + ".dig"
        return sdk.Call(workflow=target, **common)
    if isinstance(task, RepeatableTask):
        return sdk.ForEach(items=dict(task.iterables), parallel=_parallel(task.configuration),
                           do=sdk.Group(tasks=_children(task)), **common)
    if isinstance(task, ParallelTask):
        return sdk.Group(parallel=_parallel(task.configuration), tasks=_children(task),
                         **common)
    return sdk.Group(tasks=_children(task), **common)


for _cls in (Task, NamedTask, ParallelTask, RepeatableTask, CommandTask, ErrorTask,
             DependentWorkflow, EmbeddedTask, Workflow, Project):
    _cls.model_rebuild()
