"""Load a `.dig` file into a validated `Workflow` (everything checked before any task runs)."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import datetime, timedelta, timezone, tzinfo
from datetime import time as dtime
from pathlib import Path
from typing import Any, Literal

from dockerflow.dig.compile import Compiler, is_expr
from dockerflow.dig.operator_options import OPERATOR_OPTIONS
from dockerflow.dig.schedule import parse_schedule
from dockerflow.dig.words import did_you_mean
from dockerflow.dig.yaml_loader import load_file
from dockerflow.errors import DigError
from dockerflow.graph.spec import TaskSpec, Workflow, static_size
from dockerflow.timeutil import parse_zone

NAME_RE = re.compile(r'^[^0-9+^@/\\:*?"<>|]')


def check_workflow_name(name: str, file: str) -> None:
    if not name or not NAME_RE.match(name) or len(name) > 255 or name.endswith(".dig"):
        raise DigError(f"invalid workflow name {name!r}: it must not be empty, start with a digit"
                       ' or one of +^@/\\:*?"<>|, or be longer than 255 characters', file)


def display_path(path: Path, project_dir: Path) -> str:
    try:
        return str(path.resolve().relative_to(project_dir.resolve()))
    except ValueError:
        return str(path)


def load_workflow(path: str | Path, project_dir: str | Path | None = None,
                  known_operators: Collection[str] | Mapping[str, Collection[str]] | None = None,
                  warnings: list[str] | None = None,
                  unknown_operators: Literal["refuse", "allow"] = "refuse") -> Workflow:
    """Read, validate and compile a workflow file; DigError names file:line on any problem.

    `call>` targets with a literal file name are loaded and validated too.  An operator
    that is not in `known_operators` (default: the engine's, dig/operator_options.py) is
    refused, unless `unknown_operators="allow"` (how the SDK reads workflows of operators we
    don't run, such as `td>`).
    """
    if known_operators is None:
        known_operators = OPERATOR_OPTIONS
    path = Path(path)
    project = Path(project_dir) if project_dir is not None else path.parent
    if not path.is_file():
        raise DigError(f"workflow file not found: {path}"
                       + (" (did you mean " + path.name + ".dig?)"
                          if Path(str(path) + ".dig").is_file() else ""))
    wf = _load_one(path, project, known_operators, warnings, unknown_operators)
    _check_calls(wf.root, path, project, known_operators, [path.resolve()], set(), warnings,
                 unknown_operators)
    return wf


def check_task_count(workflow: Workflow, max_tasks: int) -> None:
    """Refuse, before anything runs, a workflow whose literal loops alone would make more
    than `max_tasks` tasks (`--max-tasks`), naming the loop that does."""
    stack = [workflow.root]
    while stack:
        spec = stack.pop()
        if spec.generates > max_tasks:
            raise DigError(f"{spec.op}> in {spec.name} would generate {spec.generates:,} tasks,"
                           f" more than the limit of {max_tasks:,}; make it smaller or raise"
                           " --max-tasks", spec.file, spec.line)
        stack.extend(spec.children)
    total = static_size(workflow.root)
    if total > max_tasks:
        raise DigError(f"this workflow would have {total:,} tasks (counting those its loops"
                       f" generate), more than the limit of {max_tasks:,}; raise --max-tasks",
                       workflow.file)


def _load_one(path: Path, project: Path, known: Collection[str] | Mapping[str, Collection[str]],
              warnings: list[str] | None,
              unknown_operators: Literal["refuse", "allow"]) -> Workflow:
    shown = display_path(path, project)
    config = load_file(path, display_name=shown)
    if not config:
        raise DigError("the workflow file is empty: add a task, e.g. '+hello:' with"
                       " 'echo>: hello' under it", shown)
    if not any(str(key).startswith("+") for key in config):
        raise DigError("the workflow has no tasks: add one, e.g. '+hello:' with 'echo>: hello'"
                       " under it (task names start with '+')", shown, getattr(config, "line", None))
    return compile_workflow(config, path.stem, shown, known, warnings,
                            workdir=_workdir_of(path, project),
                            unknown_operators=unknown_operators)


def _workdir_of(path: Path, project: Path) -> str:
    try:
        rel = path.resolve().parent.relative_to(project.resolve())
    except ValueError:
        return ""
    return "" if str(rel) == "." else rel.as_posix()


def compile_workflow(config: Mapping[str, Any], name: str, file: str,
                     known: Collection[str] | Mapping[str, Collection[str]],
                     warnings: list[str] | None = None,
                     workdir: str = "",
                     unknown_operators: Literal["refuse", "allow"] = "refuse") -> Workflow:
    check_workflow_name(name, file)
    compiler = Compiler(known, file, unknown_operators=unknown_operators)
    tz_name = config.get("timezone", "UTC")
    try:
        zone_ok = isinstance(tz_name, str) and parse_zone(tz_name) is not None
    except ValueError as e:
        raise compiler.loc.error(config, "timezone", str(e)) from None
    if not zone_ok:
        raise compiler.loc.error(config, "timezone", "timezone must be a string like 'UTC'")
    schedule = None
    if "schedule" in config:
        sch = config["schedule"]
        if not isinstance(sch, Mapping):
            raise compiler.loc.error(config, "schedule", "schedule must be a mapping")
        first = next(iter(sch), None)
        schedule = parse_schedule(sch, lambda m: compiler.loc.error(sch, first, m))
    sla = config.get("sla")
    sla_tasks = None
    if sla is not None:
        _check_sla(sla, lambda m: compiler.loc.error(config, "sla", m))
        own = {k: v for k, v in sla.items() if str(k).startswith("+")}
        if own:
            sla_tasks = compiler.compile_task("^sla", own, config, "sla")
    root = compiler.compile_workflow_root(name, config)
    if warnings is not None:
        warnings.extend(compiler.warnings)
    return Workflow(name=name, timezone=tz_name, root=root, schedule=schedule,
                    sla=dict(sla) if isinstance(sla, Mapping) else None, sla_tasks=sla_tasks,
                    file=file,
                    workdir=workdir)


SLA_OPTIONS = ("time", "duration", "alert", "fail")


def _check_sla(sla: Any, fail: Any) -> None:
    if not isinstance(sla, Mapping):
        raise fail("sla must be a mapping with 'time' or 'duration'")
    if ("time" in sla) == ("duration" in sla):
        raise fail("sla needs exactly one of 'time' or 'duration'")
    for key in sla:
        if not str(key).startswith("+") and key not in SLA_OPTIONS:
            raise fail(f"sla: unknown key {key!r}{did_you_mean(str(key), SLA_OPTIONS)}")
    for key in ("alert", "fail"):
        if key in sla and not isinstance(sla[key], bool):
            raise fail(f"sla: {key} must be true or false, got {sla[key]!r}")
    for key in ("time", "duration"):
        if key in sla:
            try:
                sla_seconds(sla[key])
            except ValueError as e:
                raise fail(f"sla: {key}: {e}") from None


def sla_seconds(value: Any) -> int:
    """`HH:MM` or `HH:MM:SS` as seconds."""
    parts = str(value).strip().split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise ValueError(f"use HH:MM or HH:MM:SS, got {value!r}")
    hours, minutes, seconds = (int(p) for p in parts + ["0"] * (3 - len(parts)))
    if minutes > 59 or seconds > 59:
        raise ValueError(f"minutes and seconds go up to 59, got {value!r}")
    return hours * 3600 + minutes * 60 + seconds


def sla_deadline(sla: Mapping[str, Any], zone: tzinfo, run_time: datetime) -> datetime:
    """When an attempt that started at `run_time` breaks its SLA: `duration` after it, or the
    first `time` of day (in the workflow's zone) at or after it."""
    if "duration" in sla:
        return run_time + timedelta(seconds=sla_seconds(sla["duration"]))
    seconds = sla_seconds(sla["time"])
    local = run_time.astimezone(zone)
    day = datetime.combine(local.date(), dtime(), tzinfo=zone)
    due = (day + timedelta(seconds=seconds)).astimezone(timezone.utc).astimezone(zone)
    if due < run_time:
        day = datetime.combine(local.date() + timedelta(days=1), dtime(), tzinfo=zone)
        due = day + timedelta(seconds=seconds)
    return due


def _walk(spec: TaskSpec) -> Iterator[TaskSpec]:
    """Every spec of the tree, hooks included, in file order (iterative: trees may be deep)."""
    stack = [spec]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed([*node.children, *(h for h in (node.error, node.check) if h)]))


def _check_calls(root: TaskSpec, path: Path, project: Path,
                 known: Collection[str] | Mapping[str, Collection[str]],
                 chain: list[Path], done: set[Path], warnings: list[str] | None,
                 unknown_operators: Literal["refuse", "allow"]) -> None:
    """Load and validate every literal `call>` target (depth first); a target already on the
    chain of calls is a cycle, refused with the chain of files."""
    for spec in _walk(root):
        target = spec.config.get("_command") if spec.op == "call" else None
        if not isinstance(target, str) or is_expr(target):
            continue
        called = resolve_call(path.parent, target)
        if not called.is_file():
            raise DigError(f"call> target '{target}' does not exist (looked for {called})",
                           spec.file, spec.line)
        key = called.resolve()
        if key in chain:
            files = [display_path(p, project) for p in chain[chain.index(key):] + [key]]
            raise DigError("call> cycle: " + " -> ".join(files) + "; a workflow can't call"
                           " itself, directly or through others", spec.file, spec.line)
        if key in done:
            continue
        wf = _load_one(called, project, known, warnings, unknown_operators)
        _check_calls(wf.root, called, project, known, chain + [key], done, warnings,
                     unknown_operators)
        done.add(key)


def resolve_call(base_dir: Path, target: str) -> Path:
    """The file a `call>` target names: `target` or `target.dig`, from `base_dir` (the
    calling file's folder)."""
    name = target if target.endswith(".dig") else target + ".dig"
    return base_dir / name


def call_loader(project_dir: str | Path, workdir: str = "") -> Callable[[str], Path]:
    """How `call>` finds its target at run time (`OperatorContext.load_call`): from the
    task's folder, `workdir` (its `_workdir` param, relative to `project_dir`), as
    `load_workflow` did when it checked literal targets."""
    base_dir = Path(project_dir) / workdir if workdir else Path(project_dir)
    return lambda target: resolve_call(base_dir, target)
