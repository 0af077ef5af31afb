"""`.dig` text to models: `read_dig(path)`, `parse_dig(text, name)`.

Files are read by the engine's own loader (`dockerflow.dig.yaml_loader`: Digdag's YAML
dialect, `!include` resolved, errors with `file:line`), and `read_dig` first has the engine
validate the workflow (`dockerflow.dig.workflow.load_workflow`) so that a file the engine
refuses is refused here with the same message, with one exception: any operator name is
accepted (`td>`, `pg>`, plugin operators...), since refusing operators we don't run is the
job of `dockerflow check` and `run`, not of reading.

Includes are inlined: the model holds what the engine runs, so writing it back gives a
self-contained file that behaves the same (an included fragment need not even be a valid
workflow on its own).  The `_type: x` + `_command: c` form is read as `x>: c`.  Whatever a
typed model cannot hold exactly stays in a generic `Operator`, so nothing is lost or
converted.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from dockerflow.dig.yaml_loader import load_file, load_text
from dockerflow.errors import DigError
from dockerflow.sdk.schedule import SCHEDULE_MODELS, SCHEDULE_OPTIONS, ScheduleBase
from dockerflow.sdk.tasks import DIRECTIVE_KEYS, Group, Task, build_operator
from dockerflow.sdk.workflow import Sla, Workflow

__all__ = ["parse_dig", "read_dig", "workflow_from_config"]

_BODIES = frozenset({"check", "error", "do", "else_do"})
_GROUP_DIRECTIVES = frozenset(DIRECTIVE_KEYS) - {"_do", "_else_do"}
_WORKFLOW_KEYS = ("timezone", "schedule", "sla", "_export", "_parallel", "_retry", "_error",
                  "_check", "_cache")


def read_dig(path: str | os.PathLike[str], *, validate: bool = True) -> Workflow:
    """Read a `.dig` file into a `Workflow` named after the file.

    Every Digdag workflow is read, including operators dockerflow does not run (`td>`,
    `pg>`, `bq>`, `s3_wait>`, plugin operators): they become generic `Operator` tasks that
    `to_dig` writes back unchanged.  With `validate` (the default) the engine checks the
    file first as `dockerflow run` would (unknown keys, two operators, an operator with
    subtasks, bad `_retry`/`_parallel`, bad schedules, missing `call>` targets and cycles,
    `docker:` options...) except that it accepts any operator name; its `DigError` is
    raised unchanged.  `dockerflow check`/`run` still refuse an operator they can't run.
    Without `validate`, only the YAML dialect and the SDK's models check the file.
    """
    path = os.fspath(path)
    if validate:
        engine_validate = _engine_validator()
        if engine_validate is not None:
            engine_validate(path, unknown_operators="allow")
    config = load_file(path)
    name = os.path.basename(path)
    name = name[:-4] if name.endswith(".dig") else name
    return workflow_from_config(config, name, path)


def parse_dig(text: str, name: str = "workflow", *, file: str = "<string>") -> Workflow:
    """Parse `.dig` text into a `Workflow` called `name` (no engine validation; includes
    are resolved against the current directory)."""
    return workflow_from_config(load_text(text, file), name, file)


def workflow_from_config(config: Mapping[str, Any], name: str,
                         file: str = "<string>") -> Workflow:
    """A `Workflow` from the loader's mapping (or any mapping of plain data)."""
    return _Reader(file).workflow(config, name)


def _engine_validator() -> Callable[..., Any] | None:
    """The engine's `load_workflow`, when that module exists (it is optional for the SDK)."""
    if importlib.util.find_spec("dockerflow.dig.workflow") is None:
        return None
    module = importlib.import_module("dockerflow.dig.workflow")
    return getattr(module, "load_workflow", None)


def _plain(value: Any) -> Any:
    """The loader's PosMap/PosList turned into plain dicts and lists."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


_FIELD_KEYS = {field: key for key, field in DIRECTIVE_KEYS.items()} | {"from_": "from"}


def _detail(error: ValidationError, config: Any) -> tuple[str | None, str]:
    """(the `.dig` key at fault or None, a short description) of a validation error."""
    errors = error.errors()
    loc = errors[0]["loc"]
    msg = errors[0]["msg"].removeprefix("Value error, ")
    if not loc:
        return None, msg
    key = _FIELD_KEYS.get(str(loc[0]), str(loc[0]))
    alternatives = [e for e in errors if e["loc"][:1] == loc[:1]]
    if len(alternatives) > 1 and isinstance(config, Mapping) and key in config:
        return key, f"invalid value for '{key}': {_plain(config[key])!r}"
    where = ".".join(str(p) for p in loc[1:])
    return key, f"'{key}'{'.' + where if where else ''}: {msg}"


class _Reader:
    """Turns one file's mapping into models; errors point at the offending key."""

    def __init__(self, file: str) -> None:
        self.file = file

    def error(self, node: Any, key: str | None, message: str) -> DigError:
        key_pos = getattr(node, "key_pos", None)
        if key_pos and key in key_pos:
            file, line = key_pos[key]
            return DigError(message, file, line)
        return DigError(message, getattr(node, "file", None) or self.file,
                        getattr(node, "line", None))

    # -- workflow ----------------------------------------------------------------------
    def workflow(self, config: Mapping[str, Any], name: str) -> Workflow:
        unknown = [k for k in config if not k.startswith("+") and k not in _WORKFLOW_KEYS]
        if unknown:
            raise self.error(config, unknown[0],
                             f"Workflow '{name}' includes unknown keys: {unknown}")
        data = self.directives(config, _WORKFLOW_KEYS)
        if "timezone" in config:
            data["timezone"] = config["timezone"]
        if "schedule" in config:
            data["schedule"] = self.schedule(config["schedule"], config)
        if "sla" in config:
            data["sla"] = self.sla(config["sla"], config)
        data["tasks"] = self.children(config)
        data["name"] = name
        try:
            return Workflow.model_validate(data)
        except ValidationError as e:
            key, detail = _detail(e, config)
            raise self.error(config, key, f"workflow '{name}': {detail}") from None

    def directives(self, config: Mapping[str, Any], allowed: Any) -> dict[str, Any]:
        """Field values of the `_export`, `_retry`, `_error`... keys present in `config`."""
        data: dict[str, Any] = {}
        for key, field in DIRECTIVE_KEYS.items():
            if key in config and key in allowed:
                value = config[key]
                data[field] = (self.task(value, config, key, None) if field in _BODIES
                               else _plain(value))
        return data

    def children(self, config: Mapping[str, Any]) -> tuple[Task, ...]:
        return tuple(self.task(value, config, key, key)
                     for key, value in config.items() if key.startswith("+"))

    # -- tasks -------------------------------------------------------------------------
    def task(self, value: Any, parent: Any, key: str, name: str | None) -> Task:
        """The task written as `key: value` in `parent` (`name` None for bodies)."""
        label = name or key
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise self.error(parent, key, f"Task '{label}' must be a mapping of keys")
        ops = [k for k in value if k.endswith(">")] + (["_type"] if "_type" in value else [])
        if len(ops) > 1:
            raise self.error(value, ops[1], f"A task can't have more than one operator:"
                                            f" {label} has " + " and ".join(ops))
        try:
            if ops:
                return self.operator(value, name, ops[0], label)
            return self.group(value, name, label)
        except ValidationError as e:
            field_key, detail = _detail(e, value)
            if field_key is not None and field_key in value:
                raise self.error(value, field_key, f"task '{label}': {detail}") from None
            raise self.error(parent, key, f"task '{label}': {detail}") from None

    def group(self, config: Mapping[str, Any], name: str | None, label: str) -> Group:
        for key in config:
            if key.startswith("+") or key in _GROUP_DIRECTIVES or key == "timezone":
                continue
            if key in ("schedule", "sla"):
                raise self.error(config, key, f"'{key}' of group {label} is ignored by the"
                                              " engine; put it at the top of the workflow")
            raise self.error(config, key, f"Task '{label}' contains invalid keys: '{key}'")
        data = self.directives(config, _GROUP_DIRECTIVES)
        if "timezone" in config:
            data["timezone"] = config["timezone"]
        data["name"] = name
        data["tasks"] = self.children(config)
        return Group.model_validate(data)

    def operator(self, config: Mapping[str, Any], name: str | None, op_key: str,
                 label: str) -> Task:
        if op_key == "_type":
            op = config["_type"]
            if not isinstance(op, str):
                raise self.error(config, "_type", f"_type of {label} must be a string")
            command = _plain(config.get("_command"))
        else:
            op = op_key[:-1]
            command = _plain(config[op_key])
            if "_command" in config:
                raise self.error(config, "_command", f"{label} has both {op_key} and _command")
        options: dict[str, Any] = {}
        for key, value in config.items():
            if key in (op_key, "_type", "_command") or key in DIRECTIVE_KEYS:
                continue
            if key.startswith("+"):
                raise self.error(config, key, f"A task can't have subtasks: {label} has"
                                              f" operator '{op_key}' and subtask '{key}'")
            options[key] = _plain(value)
        fields = self.directives(config, DIRECTIVE_KEYS)
        fields["name"] = name
        return build_operator(op, command, options, fields)

    # -- schedule and sla ----------------------------------------------------------------
    def schedule(self, value: Any, parent: Any) -> ScheduleBase:
        if not isinstance(value, Mapping):
            raise self.error(parent, "schedule", "schedule must be a mapping")
        kinds = [k for k in value if k.endswith(">")]
        if len(kinds) != 1:
            raise self.error(parent, "schedule", "schedule needs exactly one of "
                             + ", ".join(k + ">" for k in SCHEDULE_MODELS))
        kind = kinds[0][:-1]
        cls = SCHEDULE_MODELS.get(kind)
        if cls is None:
            raise self.error(value, kinds[0], f"Unknown scheduler type: {kind}")
        data: dict[str, Any] = {}
        for key, item in value.items():
            if key in SCHEDULE_OPTIONS:
                data[key] = item
            elif key not in (kinds[0], "at"):
                raise self.error(value, key, f"Parameter '{key}' is not used at schedule")
        data[cls.VALUE_FIELD] = value["at"] if "at" in value else value[kinds[0]]
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            key = _detail(e, value)[0]
            at = kinds[0] if key == cls.VALUE_FIELD else key
            raise self.error(value, at, "schedule: " + e.errors()[0]["msg"].removeprefix(
                "Value error, ")) from None

    def sla(self, value: Any, parent: Any) -> Sla:
        if not isinstance(value, Mapping):
            raise self.error(parent, "sla", "sla must be a mapping with 'time' or 'duration'")
        data: dict[str, Any] = {}
        for key, item in value.items():
            if key in ("time", "duration", "alert", "fail"):
                data[key] = item
            elif not key.startswith("+"):
                raise self.error(value, key, f"unknown key '{key}' in sla")
        data["tasks"] = self.children(value)
        try:
            return Sla.model_validate(data)
        except ValidationError as e:
            raise self.error(parent, "sla", f"sla: {_detail(e, value)[1]}") from None
