"""Validate a workflow's config and compile it into `TaskSpec`s.

Works on the loader's `PosMap` (positions known: errors say file:line) and on plain dicts made
at run time (`_do` bodies, `py>` subtasks, `call>` files), where errors name the task instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from typing import Any, Literal

from dockerflow.dig.cache_directive import parse_cache_value
from dockerflow.dig.operator_options import ANY_KEY_OPERATORS
from dockerflow.dig.words import did_you_mean, kind_of
from dockerflow.errors import DigError
from dockerflow.graph.spec import RetrySpec, TaskSpec, static_size

TASK_NAME_RE = re.compile(r"^\+[A-Za-z0-9_\-=\[\]{}%&@,.]+$")
GROUP_KEYS = frozenset({
    "timezone", "schedule", "sla", "_parallel", "_background", "_after", "_error", "_check",
    "_retry", "_export", "_secrets", "_env", "_disable", "_cache",
})
WORKFLOW_KEYS = frozenset({
    "timezone", "_export", "schedule", "sla", "_error", "_check", "_retry", "_parallel",
    "_cache",
})
OPERATOR_UNDERSCORE_KEYS = frozenset({
    "_type", "_command", "_export", "_retry", "_error", "_check", "_env", "_background",
    "_after", "_do", "_else_do", "_secrets", "_parallel", "_disable", "_workdir", "_cache",
})
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RETRY_KEYS = ("limit", "interval", "interval_type", "max_interval")
LOOP_OPERATORS = frozenset({"loop", "for_each", "for_range"})


def is_expr(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def has_expr(value: Any) -> bool:
    """Whether a value, or any string nested in it, holds `${...}`."""
    return any(is_expr(text) for text in _strings(value))


class Locator:
    """Turns a config node and key into an error location."""

    def __init__(self, default_file: str | None, context: str) -> None:
        self.default_file = default_file
        self.context = context

    def error(self, node: Any, key: str | None, message: str) -> DigError:
        pos = getattr(node, "key_pos", None)
        if pos and key is not None and key in pos:
            file, line = pos[key]
            return DigError(message, file, line)
        file = getattr(node, "file", None) or self.default_file
        line = getattr(node, "line", None)
        if file is None and self.context:
            return DigError(f"{message} (in {self.context})")
        return DigError(message, file, line)


class Compiler:
    """Compiles one workflow's (or one generated subtree's) config into specs."""

    def __init__(self, known_operators: Collection[str] | Mapping[str, Collection[str]],
                 file: str | None = None, context: str = "",
                 unknown_operators: Literal["refuse", "allow"] = "refuse") -> None:
        """`known_operators`: operator names, or a map of name -> the options it reads (then
        other option keys get a warning).  `unknown_operators="allow"` accepts any other
        operator name too (the SDK reads workflows of operators we don't run); everything
        else is still checked, and `_parallel` is left to such an operator."""
        self.known = frozenset(known_operators)
        self.allow_unknown = unknown_operators == "allow"
        self.options = known_operators if isinstance(known_operators, Mapping) else None
        self.loc = Locator(file, context)
        self.warnings: list[str] = []

    # -- entry points -------------------------------------------------------------------------
    def compile_workflow_root(self, name: str, config: Mapping[str, Any]) -> TaskSpec:
        for key in config:
            if not key.startswith("+") and key not in WORKFLOW_KEYS:
                if key.endswith(">") or key == "_type":
                    msg = (f"Workflow '{name}' includes an operator ('{key}') at the top level;"
                           " put it in a task, e.g. '+step: {" + key + ": ...}'")
                else:
                    msg = (f"Workflow '{name}' includes unknown keys: ['{key}']"
                           + did_you_mean(key, WORKFLOW_KEYS | GROUP_KEYS))
                raise self.loc.error(config, key, msg)
        return self.compile_group("+" + name, config, top=True)

    def compile_task(self, name: str, config: Any, parent: Any = None,
                     parent_key: str | None = None) -> TaskSpec:
        """Compile `config` (the value of key `name`) into a spec."""
        if config is None:
            config = {}
        if not isinstance(config, Mapping):
            raise self.loc.error(parent, parent_key,
                                 f"Task '{name}' must be a mapping of keys, got {kind_of(config)}")
        if config.get("_disable") is True:
            return TaskSpec(name=name, file=getattr(config, "file", None),
                            line=getattr(config, "line", None))
        ops = [k for k in config if k.endswith(">")]
        if "_type" in config:
            ops.append("_type")
        if len(ops) > 1:
            raise self.loc.error(config, ops[1],
                                 f"A task can't have more than one operator: {name} has "
                                 + " and ".join(f"'{o}'" for o in ops))
        if ops:
            return self.compile_operator(name, config, ops[0])
        return self.compile_group(name, config)

    # -- groups -------------------------------------------------------------------------------
    def compile_group(self, name: str, config: Mapping[str, Any], top: bool = False) -> TaskSpec:
        children_cfg = []
        for key, value in config.items():
            if key.startswith("+"):
                self.check_task_name(config, key)
                children_cfg.append((key, value))
            elif not top and key not in GROUP_KEYS:
                raise self.loc.error(config, key,
                                     f"Task '{name}' contains invalid keys: '{key}'"
                                     + did_you_mean(key, GROUP_KEYS)
                                     + "; a group allows only +tasks and "
                                     + ", ".join(sorted(GROUP_KEYS)))
        parallel_value, limit = self.parse_parallel(config, allow_expr=False)
        parallel = parallel_value is True
        children = []
        seen: list[str] = []
        for key, value in children_cfg:
            spec = self.compile_task(key, value, config, key)
            if spec.background and parallel:
                raise self.loc.error(value, "_background",
                                     'Setting "_background: true" option is invalid (unnecessary)'
                                     ' if its parent task has "_parallel: true" option')
            if spec.after:
                if not parallel:
                    raise self.loc.error(value, "_after",
                                         'Setting "_after" option is invalid if its parent task'
                                         " doesn't have \"_parallel: true\" option")
                for dep in spec.after:
                    if dep not in seen:
                        later = dep in dict(children_cfg)
                        why = " (it is defined later; _after may only name earlier siblings)" \
                            if later else did_you_mean(dep, seen)
                        raise self.loc.error(value, "_after",
                                             f"Dependency task '{dep}' does not exist{why}")
            seen.append(key)
            children.append(spec)
        retry = config.get("_retry")
        if is_expr(retry):
            self.warnings.append(f"{self.loc.error(config, '_retry', '').file or name}: _retry of"
                                 f" group {name} uses ${{...}}, which groups don't evaluate;"
                                 " it is ignored")
        return TaskSpec(
            name=name,
            export=self.parse_export(config),
            children=tuple(children),
            parallel=parallel,
            limit=limit,
            background=self.parse_bool(config, "_background"),
            after=self.parse_after(config),
            retry=None if is_expr(retry) else self.parse_retry(config),
            error=self.compile_hook(config, "_error", "^error"),
            check=self.compile_hook(config, "_check", "^check"),
            file=getattr(config, "file", None) or self.loc.default_file,
            line=getattr(config, "line", None),
        )

    # -- operator tasks ------------------------------------------------------------------------
    def compile_operator(self, name: str, config: Mapping[str, Any], op_key: str) -> TaskSpec:
        local: dict[str, Any] = {}
        if op_key == "_type":
            op = config["_type"]
            if not isinstance(op, str):
                raise self.loc.error(config, op_key, f"_type of {name} must be a string")
        else:
            op = op_key[:-1]
        unknown = not is_expr(op) and op not in self.known
        if unknown and not self.allow_unknown:
            raise self.loc.error(config, op_key,
                                 f"Unknown operator '{op}>' in task {name}"
                                 + did_you_mean(op, self.known)
                                 + "; known operators: "
                                 + ", ".join(sorted(o + ">" for o in self.known)))
        for key, value in config.items():
            if key.startswith("+"):
                raise self.loc.error(config, key,
                                     f"A task can't have subtasks: {name} has operator '{op_key}'"
                                     f" and subtask '{key}'")
            if key.startswith("_") and key not in OPERATOR_UNDERSCORE_KEYS:
                raise self.loc.error(config, key, f"Task '{name}' has an unknown key '{key}'"
                                     + did_you_mean(key, OPERATOR_UNDERSCORE_KEYS))
            if key == op_key and op_key != "_type":
                local["_command"] = value  # in the order written: keys see the ones before them
                continue
            if key in ("_error", "_check", "_export", "_secrets", "_retry", "_background", "_after",
                       "_cache", op_key):
                continue
            if key in ("_parallel",) and op not in LOOP_OPERATORS and not unknown:
                raise self.loc.error(config, key,
                                     f"'_parallel' is not allowed on operator task {name};"
                                     " put the tasks in a group")
            local[key] = value
        self.check_env(config)
        self.warn_unused(name, op, config)
        if op in LOOP_OPERATORS and "_do" not in config:
            raise self.loc.error(config, op_key, f"{op}> in {name} requires a '_do' block")
        if op == "if" and "_do" not in config and "_else_do" not in config:
            raise self.loc.error(config, op_key,
                                 f"if> in {name} requires '_do' and/or '_else_do'")
        bodies = {body: self.compile_task("+" + body, config[body], config, body)
                  for body in ("_do", "_else_do") if body in config}
        if "_parallel" in config:
            self.parse_parallel(config, allow_expr=True)  # validate; the operator reads it
        if "docker" in config:
            self.check_docker(config, "docker")
        generates = 0
        if op in LOOP_OPERATORS:
            count = loop_count(op, config, op_key, self.loc)
            if count is not None:
                generates = 1 + count * static_size(bodies["_do"])
        retry_raw = config.get("_retry")
        return TaskSpec(
            name=name,
            op=op,
            config=local,
            export=self.parse_export(config),
            background=self.parse_bool(config, "_background"),
            after=self.parse_after(config),
            retry=retry_raw if is_expr(retry_raw) else self.parse_retry(config),
            error=self.compile_hook(config, "_error", "^error"),
            check=self.compile_hook(config, "_check", "^check"),
            file=getattr(config, "file", None) or self.loc.default_file,
            line=getattr(config, "line", None),
            generates=generates,
        )

    def warn_unused(self, name: str, op: str, config: Mapping[str, Any]) -> None:
        """Digdag's "Parameter 'k' is not used" warning, for option keys the operator never
        reads and no `${...}` of the task mentions (local keys are params too)."""
        if self.options is None or op not in self.options or op in ANY_KEY_OPERATORS:
            return
        known = set(self.options[op]) | {"docker", op}
        texts = [v for v in _strings(config) if "${" in v]
        for key in config:
            if key.startswith(("_", "+")) or key.endswith(">") or key in known:
                continue
            if any(key in text for text in texts):
                continue
            where = self.loc.error(config, key, "")
            self.warnings.append(f"{where}parameter '{key}' is not used by {op}> at task {name}"
                                 + did_you_mean(key, known)
                                 + "; to pass it to tasks, put it under _export")

    # -- directives -------------------------------------------------------------------------
    def compile_hook(self, config: Mapping[str, Any], key: str, name: str) -> TaskSpec | None:
        if key not in config:
            return None
        return self.compile_task(name, config[key], config, key)

    def check_task_name(self, config: Any, key: str) -> None:
        if not TASK_NAME_RE.match(key):
            raise self.loc.error(config, key,
                                 f"Invalid task name '{key}': after '+' use only letters, digits"
                                 " and _-=[]{}%&@,.")

    def check_env(self, config: Mapping[str, Any]) -> None:
        env = config.get("_env")
        if env is None:
            return
        if not isinstance(env, Mapping):
            raise self.loc.error(config, "_env", "_env must be a mapping of NAME: value")
        for k in env:
            if not ENV_NAME_RE.match(str(k)):
                raise self.loc.error(env, k, f"Invalid environment variable name '{k}' in _env")

    def parse_export(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """`_export`, plus `_secrets` remaps, which the subtree inherits the same way."""
        export = config.get("_export")
        if export is not None and not isinstance(export, Mapping):
            raise self.loc.error(config, "_export", "_export must be a mapping")
        out = dict(export or {})
        if export is not None and "docker" in export:
            self.check_docker(export, "docker")
        remap = config.get("_secrets")
        if isinstance(remap, Mapping):
            out["_secrets"] = dict(remap)
        elif remap not in (None, True, False):
            raise self.loc.error(config, "_secrets", "_secrets must be a map of prefix: prefix")
        if "_cache" in config:  # inherited like _secrets; runtime/cache.py reads it
            out["_cache"] = parse_cache_value(
                config["_cache"],
                lambda m, node=config, key="_cache": self.loc.error(node, key, m),
                _folder_depth(self.loc.default_file))
        return out

    def check_docker(self, parent: Mapping[str, Any], key: str) -> None:
        """Validate a `docker:` fragment (from `_export` or a task's own key) as far as it is
        literal: unknown keys (with a did-you-mean) and bad values, at the key's line. A
        fragment need not name the image: it may come from an `_export` further up."""
        from dockerflow.executors.docker_options import KNOWN_KEYS as DOCKER_KEYS
        from dockerflow.executors.docker_options import DockerOptionsError, parse_docker_options

        value = parent[key]
        if is_expr(value):
            return
        if not isinstance(value, Mapping):
            raise self.loc.error(parent, key, "docker: must be a mapping, e.g."
                                 " docker: {image: dockerflow/python:latest}")
        for name, item in value.items():
            if name not in DOCKER_KEYS:
                raise self.loc.error(value, name, f"unknown docker option '{name}'"
                                     + did_you_mean(str(name), DOCKER_KEYS)
                                     + "; known: " + ", ".join(DOCKER_KEYS))
            if has_expr(item):
                continue  # evaluated per task; the executor checks the value it gets
            probe = {name: item} if name == "image" else {"image": "x", name: item}
            try:
                parse_docker_options(probe, host_env={}, base_dir="/")
            except DockerOptionsError as e:
                raise self.loc.error(value, name, str(e)) from None

    def parse_bool(self, config: Mapping[str, Any], key: str) -> bool:
        value = config.get(key, False)
        if value in (True, False):
            return bool(value)
        if isinstance(value, str) and value in ("true", "false"):
            return value == "true"
        raise self.loc.error(config, key, f"Expected 'true' or 'false' for key '{key}'"
                             f" but got {value!r}")

    def parse_after(self, config: Mapping[str, Any]) -> tuple[str, ...]:
        after = config.get("_after")
        if after is None:
            return ()
        items = [after] if isinstance(after, str) else after
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise self.loc.error(config, "_after", "_after must be a task name or a list of them")
        return tuple(items)

    def parse_parallel(self, config: Mapping[str, Any],
                       allow_expr: bool) -> tuple[bool | str, int | None]:
        value = config.get("_parallel", False)
        if isinstance(value, Mapping):
            unknown = [k for k in value if k != "limit"]
            if unknown:
                raise self.loc.error(value, unknown[0],
                                     f"Unknown key '{unknown[0]}' in _parallel; only 'limit'")
            limit = value.get("limit")
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise self.loc.error(config, "_parallel",
                                     f"_parallel limit must be a positive integer, got {limit!r}")
            return True, limit
        if is_expr(value):
            if allow_expr:
                return value, None
            raise self.loc.error(config, "_parallel",
                                 "_parallel of a group can't use ${...}: group keys are not"
                                 " evaluated; write true or false")
        return self.parse_bool(config, "_parallel"), None

    def parse_retry(self, config: Mapping[str, Any]) -> RetrySpec | None:
        if "_retry" not in config:
            return None
        return parse_retry_value(config["_retry"], lambda m: self.loc.error(config, "_retry", m))


def parse_retry_value(value: Any, fail: Any) -> RetrySpec:
    """Parse `_retry: N` or `{limit, interval, interval_type, max_interval}`."""
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in RETRY_KEYS]
        if unknown:
            raise fail(f"Unknown key '{unknown[0]}' in _retry" + did_you_mean(unknown[0], RETRY_KEYS))
        if "limit" not in value:
            raise fail("_retry needs 'limit' (how many retries)")
        limit = _int(value["limit"], "_retry limit", fail)
        interval = _num(value.get("interval", 0), "_retry interval", fail)
        kind = value.get("interval_type", "constant")
        if kind not in ("constant", "exponential"):
            raise fail(f"_retry interval_type must be 'constant' or 'exponential', got {kind!r}")
        max_interval = value.get("max_interval")
        return RetrySpec(limit, interval, kind == "exponential",
                         None if max_interval is None else _num(max_interval,
                                                                "_retry max_interval", fail))
    return RetrySpec(_int(value, "_retry", fail))


def loop_count(op: str, config: Mapping[str, Any], op_key: str, loc: Locator) -> int | None:
    """How many children a loop>/for_each>/for_range> with literal arguments makes (None when
    `${...}` decides); literal arguments that the operator would refuse are refused here."""
    command = config.get(op_key)

    def fail(message: str) -> DigError:
        return loc.error(config, op_key, f"{op}>: {message}")

    if op == "loop":
        count = command if command is not None else config.get("count")
        if is_expr(count):
            return None
        if isinstance(count, str) and count.strip().isdigit():
            return int(count)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise fail(f"the count must be a non-negative integer, got {count!r}")
        return count
    if is_expr(command):
        return None
    spec = _json_literal(command, fail)
    if op == "for_each":
        if not isinstance(spec, Mapping):
            raise fail(f"needs a map of key: [values], got {kind_of(spec)}")
        total = 1
        for key, values in spec.items():
            if is_expr(values):
                return None
            values = _json_literal(values, lambda m, k=key: fail(f"values of '{k}': {m}"))
            if not isinstance(values, list):
                raise fail(f"values of '{key}' must be a list, got {kind_of(values)}")
            total *= len(values)
        return total if spec else 0
    if not isinstance(spec, Mapping):  # for_range
        raise fail(f"needs {{from: N, to: M, step: S}} or {{from, to, slices: K}}, got {kind_of(spec)}")
    unknown = [k for k in spec if k not in ("from", "to", "step", "slices")]
    if unknown:
        raise fail(f"unknown key '{unknown[0]}'" + did_you_mean(str(unknown[0]), ("from", "to", "step", "slices")))
    if ("step" in spec) == ("slices" in spec):
        raise fail("needs exactly one of 'step' or 'slices'")
    numbers: dict[str, int | None] = {}
    for key in ("from", "to", "step", "slices"):
        if key not in spec:
            continue
        value = spec[key]
        if is_expr(value):
            numbers[key] = None
            continue
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(f"'{key}' must be an integer, got {value!r}")
        numbers[key] = value
    for key in ("from", "to"):
        if key not in spec:
            raise fail(f"needs '{key}'")
    for key in ("step", "slices"):
        if numbers.get(key) is not None and numbers[key] < 1:  # type: ignore[operator]
            raise fail(f"'{key}' must be at least 1, got {numbers[key]}")
    start, end = numbers["from"], numbers["to"]
    if start is None or end is None:
        return None
    if "slices" in spec:
        slices = numbers["slices"]
        if slices is None or end <= start:
            return None if slices is None else 0
        width = -(-(end - start) // slices)
        return -(-(end - start) // width)
    step = numbers["step"]
    return None if step is None else max(0, -(-(end - start) // step))


def _json_literal(value: Any, fail: Any) -> Any:
    """A literal loop argument: a value, or JSON text (as Digdag accepts)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        raise fail(f"{value!r} is neither a list/map nor JSON text") from None


def _int(value: Any, what: str, fail: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise fail(f"{what} must be a non-negative integer, got {value!r}")
    return value


def _num(value: Any, what: str, fail: Any) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise fail(f"{what} must be a non-negative number of seconds, got {value!r}")
    return float(value)


def _folder_depth(file: str | None) -> int | None:
    """How many folders below the project a workflow file (its project-relative display
    path) is; None when unknown."""
    if not file or file.startswith("/") or ".." in file.split("/"):
        return None
    return file.count("/")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []
