"""Task models: `Group`, one model per generic operator, and `Operator` for any other.

    Group            +name: {+child: ..., _parallel, _background, _after, _retry, ...}
    Sh Py Echo Fail  sh>: / py>: / echo>: / fail>:
    Call Require     call>: / require>:
    If Loop ForEach ForRange   if>: / loop>: / for_each>: / for_range>: (with `_do` bodies)
    Wait Http Mail   wait>: / http>: / mail>:
    HttpCall         http_call>: (a workflow fetched over HTTP, run as children)
    Operator         any other `x>:` (td>, pg>, ...), kept as type + command + options

Every task has a `name` (the key without `+`) except bodies (`_error`, `_check`, `_do`,
`_else_do`), which have none.  Keys an operator model does not know go to `options` verbatim
(operator options, local params such as `FOO: bar` for `sh>`).

Canonical form: a model equals what reading its written `.dig` text gives back.  So
`options` may not hold a key that has a field of its own (`_export`, `shell`, ...), and an
`Operator` may not use a built-in type with data its typed model can hold (use `Sh`, not
`Operator(type="sh", ...)`).  `Operator(type="sh", command=5)` is fine: `Sh` needs a string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from dockerflow.sdk.values import (
    BoolStr,
    BoolValue,
    CacheValue,
    Docker,
    Duration,
    Env,
    Expr,
    IntStr,
    JsonValue,
    LoopParallel,
    Model,
    ParallelLimit,
    ParallelValue,
    Params,
    RetryValue,
    StrTuple,
    Timezone,
    dig_key,
    json_value,
)

__all__ = [
    "Attachment",
    "Call",
    "DIRECTIVE_KEYS",
    "Echo",
    "Fail",
    "ForEach",
    "ForRange",
    "Group",
    "Http",
    "HttpCall",
    "If",
    "Loop",
    "Mail",
    "OPERATOR_MODELS",
    "Operator",
    "OperatorTask",
    "Py",
    "Require",
    "Sh",
    "Task",
    "TaskBase",
    "Wait",
    "build_operator",
    "check_children",
]

TASK_NAME = re.compile(r"^[A-Za-z0-9_\-=\[\]{}%&@,.]+$")

# Keys the reader always takes out of an operator task into fields (never into `options`).
DIRECTIVE_KEYS: dict[str, str] = {
    "_export": "export", "_env": "env", "_secrets": "secrets", "_background": "background",
    "_after": "after", "_retry": "retry", "_disable": "disable", "_check": "check",
    "_error": "error", "_do": "do", "_else_do": "else_do", "_parallel": "parallel",
    "_cache": "cache",
}
_RESERVED_OPTION_KEYS = frozenset(DIRECTIVE_KEYS) | {"_type", "_command"}


def _task_name(value: str) -> str:
    name = value[1:] if value.startswith("+") else value
    if not TASK_NAME.match(name):
        raise ValueError(f"invalid task name {value!r}: use only letters, digits and"
                         " _-=[]{}%&@,. (the leading + is optional)")
    return name


TaskName = Annotated[str, AfterValidator(_task_name)]


def _after_names(value: Any) -> Any:
    if isinstance(value, str):
        return "+" + _task_name(value)
    if isinstance(value, (list, tuple)):
        return tuple("+" + _task_name(v) if isinstance(v, str) else v for v in value)
    return value


AfterNames = Annotated[str | Sequence[str], BeforeValidator(_after_names)]


def _truthy(value: Any) -> bool:
    return value is True or value == "true" or isinstance(value, ParallelLimit)


def check_children(tasks: Sequence[Any], parallel: Any, where: str = "group") -> None:
    """The engine's rules for the children of a group (names, `_background`, `_after`)."""
    seen: list[str] = []
    par = _truthy(parallel)
    for task in tasks:
        if task.name is None:
            raise ValueError(f"every task of a {where} needs a name")
        if task.name in seen:
            raise ValueError(f"two tasks named '+{task.name}' in one {where}")
        if _truthy(task.background) and par:
            raise ValueError(f"'+{task.name}': _background is invalid (unnecessary) when the"
                             " parent has _parallel")
        if task.after is not None:
            if not par:
                raise ValueError(f"'+{task.name}': _after needs a parent with _parallel: true")
            for dep in (task.after,) if isinstance(task.after, str) else task.after:
                if dep[1:] not in seen:
                    raise ValueError(f"'+{task.name}': _after names '{dep}', which is not a"
                                     " sibling defined earlier")
        seen.append(task.name)


def _no_name(body: Any, key: str) -> None:
    if body is not None and body.name is not None:
        raise ValueError(f"the {key} task has no name of its own; drop name={body.name!r}")


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


class TaskBase(Model):
    """Keys every task (group or operator) accepts."""

    name: TaskName | None = None
    """The key without `+`; None for bodies (`_error`, `_check`, `_do`, `_else_do`)."""
    export: Params | None = None
    env: Env | None = None
    secrets: bool | Params | None = None
    background: bool | BoolStr | None = None
    after: AfterNames | None = None
    """Earlier siblings to wait for (parallel groups only); stored with their leading `+`."""
    retry: RetryValue | None = None
    disable: bool | None = None
    cache: CacheValue | None = None
    """`_cache`: skip the task when its inputs are unchanged (see `Cache`); inherited."""
    check: Task | None = None
    error: Task | None = None

    @model_validator(mode="after")
    def _bodies_unnamed(self) -> TaskBase:
        _no_name(self.check, "_check")
        _no_name(self.error, "_error")
        return self


class Group(TaskBase):
    """A task without an operator: runs its `tasks` in order, or at once with `parallel`."""

    parallel: ParallelValue | None = None
    timezone: Timezone | None = None
    tasks: Annotated[Sequence[Task], BeforeValidator(_as_tuple)] = ()

    @model_validator(mode="after")
    def _children(self) -> Group:
        check_children(self.tasks, self.parallel)
        return self


class OperatorTask(TaskBase):
    """Base of operator tasks: `OP>: <command fields>` plus option fields and `options`."""

    OP: ClassVar[str] = ""
    COMMAND: ClassVar[tuple[str, ...]] = ()
    """Fields that make up the value of `OP>:`."""

    options: Params = Field(default_factory=dict)
    """Other keys of the task, written verbatim after the typed options."""

    @classmethod
    def option_keys(cls) -> dict[str, str]:
        """`.dig` key -> field name, for the typed options of this operator."""
        base = set(TaskBase.model_fields) | {"options", "do", "else_do", "parallel", "type"}
        return {dig_key(name): name for name in cls.model_fields
                if name not in base and name not in cls.COMMAND}

    @classmethod
    def command_fields(cls, value: Any) -> dict[str, Any]:
        """Fields from the value of `OP>:` (ValueError when it does not fit)."""
        return {cls.COMMAND[0]: value}

    def command_value(self) -> Any:
        """The value written after `OP>:`."""
        return getattr(self, self.COMMAND[0])

    @model_validator(mode="after")
    def _options_canonical(self) -> OperatorTask:
        typed = self.option_keys()
        for key, value in self.options.items():
            if key.startswith("+") or key.endswith(">"):
                raise ValueError(f"options: {key!r} would be a subtask or a second operator")
            if key in _RESERVED_OPTION_KEYS:
                field = DIRECTIVE_KEYS.get(key)
                raise ValueError(f"options: {key!r} is not an option"
                                 + (f"; use the {field!r} field" if field else ""))
            if key in typed and value is not None:
                raise ValueError(f"options: {key!r} has a field of its own; use"
                                 f" {typed[key]}=...")
        return self

    @classmethod
    def from_parts(cls, command: Any, options: Mapping[str, Any],
                   fields: Mapping[str, Any]) -> OperatorTask | None:
        """This model from a task's parts, or None if they don't fit it exactly."""
        try:
            data = dict(fields)
            data.update(cls.command_fields(command))
        except (ValueError, TypeError, KeyError):
            return None
        keys = cls.option_keys()
        extra = {}
        for key, value in options.items():
            if key in keys and value is not None:
                data[keys[key]] = value
            else:
                extra[key] = value
        if extra:
            data["options"] = extra
        try:
            return cls.model_validate(data)
        except ValidationError:
            return None


class Sh(OperatorTask):
    """`sh>: COMMAND`: a shell script (in a container when `docker` is set or exported)."""

    OP = "sh"
    COMMAND = ("command",)
    command: str
    shell: StrTuple | None = None
    """The shell's argv, default `["/bin/sh"]`."""
    docker: Docker | None = None


class Py(OperatorTask):
    """`py>: [pkg.]module[.Class].method`: a Python function, arguments filled from params."""

    OP = "py"
    COMMAND = ("method",)
    method: str
    python: str | StrTuple | None = None
    """The interpreter: a path or an argv (default `python`)."""
    docker: Docker | None = None


class Echo(OperatorTask):
    """`echo>: MESSAGE`: prints the message."""

    OP = "echo"
    COMMAND = ("message",)
    message: str


class Fail(OperatorTask):
    """`fail>: MESSAGE`: fails the task with the message (never retried)."""

    OP = "fail"
    COMMAND = ("message",)
    message: str


class Call(OperatorTask):
    """`call>: FILE[.dig]`: runs another workflow file as this task's children."""

    OP = "call"
    COMMAND = ("workflow",)
    workflow: str


class Require(OperatorTask):
    """`require>: WORKFLOW`: starts or joins that workflow's session and waits for it."""

    OP = "require"
    COMMAND = ("workflow",)
    workflow: str
    session_time: str | None = None
    project_id: Annotated[int, Field(ge=0)] | IntStr | Expr | None = None
    project_name: str | None = None
    params: Params | None = None
    rerun_on: Literal["none", "failed", "all"] | Expr | None = None
    ignore_failure: BoolValue | None = None

    @model_validator(mode="after")
    def _one_project(self) -> Require:
        if self.project_id is not None and self.project_name is not None:
            raise ValueError("give project_id or project_name, not both")
        return self


class If(OperatorTask):
    """`if>: COND`: runs `do` when true, `else_do` when false (at least one is needed)."""

    OP = "if"
    COMMAND = ("condition",)
    condition: bool | BoolStr | Expr
    do: Task | None = None
    else_do: Task | None = None

    @model_validator(mode="after")
    def _branches(self) -> If:
        if self.do is None and self.else_do is None:
            raise ValueError("if> needs do and/or else_do")
        _no_name(self.do, "_do")
        _no_name(self.else_do, "_else_do")
        return self


class _LoopBase(OperatorTask):
    do: Task
    parallel: LoopParallel | None = None
    """Run the iterations at once (evaluated, so `${...}` works)."""

    @model_validator(mode="after")
    def _body(self) -> _LoopBase:
        _no_name(self.do, "_do")
        return self


class Loop(_LoopBase):
    """`loop>: N`: runs `do` N times with `${i}` = 0..N-1."""

    OP = "loop"
    COMMAND = ("count",)
    count: Annotated[int, Field(ge=0)] | IntStr | Expr


_JsonList = Annotated[list[Any], BeforeValidator(lambda v: json_value(v) if isinstance(
    v, (list, tuple)) else v)]


class ForEach(_LoopBase):
    """`for_each>: {key: [values]}`: runs `do` for every combination, values exported.

    `items` may also be a JSON string, and each list may be a JSON string.
    """

    OP = "for_each"
    COMMAND = ("items",)
    items: dict[str, _JsonList | str] | str

    @field_validator("items", mode="before")
    @classmethod
    def _copy(cls, value: Any) -> Any:
        return dict(value) if isinstance(value, Mapping) else value


_RangeInt = int | IntStr | Expr


class ForRange(_LoopBase):
    """`for_range>: {from, to, step | slices}`: runs `do` per slice with `${range.*}`."""

    OP = "for_range"
    COMMAND = ("from_", "to", "step", "slices")
    from_: _RangeInt
    to: _RangeInt
    step: _RangeInt | None = None
    slices: _RangeInt | None = None

    @model_validator(mode="after")
    def _step_or_slices(self) -> ForRange:
        if (self.step is None) == (self.slices is None):
            raise ValueError("for_range> needs exactly one of step and slices")
        return self

    @classmethod
    def command_fields(cls, value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping) or not set(value) <= {"from", "to", "step", "slices"}:
            raise ValueError("for_range> takes {from, to, step | slices}")
        return {("from_" if k == "from" else k): v for k, v in value.items()}

    def command_value(self) -> Any:
        out: dict[str, Any] = {"from": self.from_, "to": self.to}
        if self.step is not None:
            out["step"] = self.step
        if self.slices is not None:
            out["slices"] = self.slices
        return out


class Wait(OperatorTask):
    """`wait>: DURATION`: waits, e.g. `wait>: 10m`."""

    OP = "wait"
    COMMAND = ("duration",)
    duration: Duration | Expr
    blocking: BoolValue | None = None
    poll_interval: Duration | Expr | None = None

    @model_validator(mode="after")
    def _poll(self) -> Wait:
        if self.blocking is True and self.poll_interval is not None:
            raise ValueError("poll_interval is not allowed with blocking: true")
        return self


class Http(OperatorTask):
    """`http>: URI`: an HTTP request.

    The `retry` option of http> has no field (it would clash with `_retry`); put it in
    `options`.
    """

    OP = "http"
    COMMAND = ("uri",)
    uri: str
    method: str | None = None
    content: JsonValue = None
    content_format: Literal["text", "json", "form"] | Expr | None = None
    content_type: str | None = None
    headers: Annotated[Sequence[Params], BeforeValidator(_as_tuple)] | None = None
    query: str | Params | None = None
    store_content: BoolValue | None = None
    timeout: Annotated[int, Field(ge=0)] | Expr | None = None
    insecure: BoolValue | None = None


class HttpCall(OperatorTask):
    """`http_call>: URI`: fetches a workflow (JSON or YAML) and runs it as children.

    Takes http>'s request options (not `store_content`); `retry` goes in `options`, as for
    `Http`.
    """

    OP = "http_call"
    COMMAND = ("uri",)
    uri: str
    content_type_override: str | None = None
    """`application/x-yaml` or `application/json`, whatever the server's Content-Type."""
    method: str | None = None
    content: JsonValue = None
    content_format: Literal["text", "json", "form"] | Expr | None = None
    content_type: str | None = None
    headers: Annotated[Sequence[Params], BeforeValidator(_as_tuple)] | None = None
    query: str | Params | None = None
    timeout: Annotated[int, Field(ge=0)] | Expr | None = None
    insecure: BoolValue | None = None


class Attachment(Model):
    """One file of `mail>`'s `attach_files`."""

    path: str
    filename: str | None = None
    content_type: str | None = None


_Recipients = str | StrTuple


class Mail(OperatorTask):
    """`mail>: BODY_FILE` or `mail>: {data: TEXT}`: sends a mail (body `${...}`-evaluated)."""

    OP = "mail"
    COMMAND = ("body", "data")
    body: str | None = None
    """Path of a file holding the body."""
    data: str | None = None
    """The body itself."""
    subject: str | None = None
    to: _Recipients | None = None
    cc: _Recipients | None = None
    bcc: _Recipients | None = None
    from_: str | None = None
    html: BoolValue | None = None
    attach_files: Annotated[Sequence[Attachment], BeforeValidator(_as_tuple)] | None = None
    debug: BoolValue | None = None

    @model_validator(mode="after")
    def _one_body(self) -> Mail:
        if (self.body is None) == (self.data is None):
            raise ValueError("mail> needs exactly one of body (a file) and data (the text)")
        return self

    @classmethod
    def command_fields(cls, value: Any) -> dict[str, Any]:
        if isinstance(value, Mapping):
            if set(value) != {"data"}:
                raise ValueError("mail> takes a file name or {data: text}")
            return {"data": value["data"]}
        return {"body": value}

    def command_value(self) -> Any:
        return self.body if self.body is not None else {"data": self.data}


_OP_TYPE = re.compile(r"^[A-Za-z0-9_.\-${}]+$")


class Operator(OperatorTask):
    """Any other operator (`td>`, `pg>`, `rb>`, ...), or a built-in one with data its typed
    model cannot hold; written as `type>: command` plus `options`."""

    COMMAND = ("command",)
    type: str
    command: JsonValue = None
    do: Task | None = None
    else_do: Task | None = None
    parallel: LoopParallel | None = None

    @field_validator("type")
    @classmethod
    def _type_name(cls, value: str) -> str:
        if not _OP_TYPE.match(value) or value.startswith(("+", "_")):
            raise ValueError(f"invalid operator name {value!r}")
        return value

    @model_validator(mode="after")
    def _not_typed(self) -> Operator:
        _no_name(self.do, "_do")
        _no_name(self.else_do, "_else_do")
        typed = OPERATOR_MODELS.get(self.type)
        if typed is not None and typed.from_parts(self.command, self.options,
                                                  self.directive_fields()) is not None:
            raise ValueError(f"use {typed.__name__}(...) for {self.type}> tasks")
        return self

    def command_value(self) -> Any:
        return self.command

    def directive_fields(self) -> dict[str, Any]:
        """The fields other than type, command and options that are set."""
        return {name: value for name in (set(type(self).model_fields)
                                         - {"type", "command", "options"})
                if (value := getattr(self, name)) is not None}


OPERATOR_MODELS: dict[str, type[OperatorTask]] = {
    cls.OP: cls
    for cls in (Sh, Py, Echo, Fail, Call, Require, If, Loop, ForEach, ForRange, Wait, Http,
                HttpCall, Mail)
}
"""The typed model of each built-in operator, by name."""


def build_operator(op: str, command: Any, options: Mapping[str, Any],
                   fields: Mapping[str, Any]) -> Task:
    """The typed model for `op` when the parts fit it, else a generic `Operator`.

    `fields` are field values by name (name, export, retry, do, ...).  Raises pydantic's
    ValidationError when not even the generic form can hold them.
    """
    typed = OPERATOR_MODELS.get(op)
    if typed is not None:
        task = typed.from_parts(command, options, fields)
        if task is not None:
            return task  # type: ignore[return-value]  # every OperatorTask is in Task
    return Operator.model_validate({**fields, "type": op, "command": command,
                                    "options": dict(options)})


Task = Annotated[
    Group | Sh | Py | Echo | Fail | Call | Require | If | Loop | ForEach | ForRange | Wait | Http
    | HttpCall | Mail | Operator,
    Field(union_mode="smart"),
]
"""Any task: a group or an operator task."""

_MODELS: tuple[type[Model], ...] = (TaskBase, Group, OperatorTask, *OPERATOR_MODELS.values(),
                                    _LoopBase, Operator)
for _cls in _MODELS:
    _cls.model_rebuild()
