"""Compiled, static description of a task tree (pure data, no I/O).

A `TaskSpec` is what one `+task` (or a generated `^sub`/`^error`/`^check` node) means once its
structural keys are read: the operator, its raw config (still holding `${...}`), the
group directives, and the children. The runtime instantiates specs into tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class RetrySpec:
    limit: int
    interval: float = 0.0
    exponential: bool = False
    max_interval: float | None = None

    def wait_before(self, retry_count: int) -> float:
        """Seconds to wait before retry number `retry_count` (0-based)."""
        if not self.exponential:
            return self.interval
        wait = self.interval * (2**retry_count)
        return min(wait, self.max_interval) if self.max_interval is not None else wait


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One node of the task tree.

    name        local name: "+a", or "^sub", "^error", "^check"; the root is "+<workflow>"
    op          operator name without ">" ("sh"), None for a group
    config      raw local config of an operator task (`_command`, options, `_env`, `_do`...)
    export      raw `_export` of the node
    children    child specs in file order
    parallel    whether the children of a group run at once
    limit       chunk size for `_parallel: {limit: N}`
    retry       parsed `_retry`, or a raw "${...}" string on operator tasks (evaluated per run)
    generates   tasks a loop>/for_each>/for_range> with literal arguments will generate
                (known when compiled; 0 when unknown or none)
    """

    name: str
    op: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    export: dict[str, Any] = field(default_factory=dict)
    children: tuple[TaskSpec, ...] = ()
    parallel: bool = False
    limit: int | None = None
    background: bool = False
    after: tuple[str, ...] = ()
    retry: RetrySpec | str | None = None
    error: TaskSpec | None = None
    check: TaskSpec | None = None
    file: str | None = None
    line: int | None = None
    generates: int = 0

    @property
    def is_group(self) -> bool:
        return self.op is None

    def where(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        return self.file or ""


def tree_size(root: Any, weight: Callable[[Any], int] = lambda node: 1) -> int:
    """The sum of `weight` over a tree of nodes with `.children` (specs or tasks); iterative,
    since trees may be nested hundreds deep."""
    total = 0
    stack = [root]
    while stack:
        node = stack.pop()
        total += weight(node)
        stack.extend(node.children)
    return total


def static_size(spec: TaskSpec) -> int:
    """Tasks of the tree, counting those that literal loop arguments will generate."""
    return tree_size(spec, lambda node: 1 + node.generates)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A parsed `schedule:` block."""

    kind: str  # hourly, daily, weekly, monthly, minutes_interval, cron, seconds_interval
    value: str
    delay: int = 0
    start: str | None = None
    end: str | None = None
    skip_on_overtime: bool = False
    skip_delayed_by: float | None = None


@dataclass(frozen=True, slots=True)
class Workflow:
    name: str
    timezone: str
    root: TaskSpec
    schedule: Schedule | None = None
    sla: dict[str, Any] | None = None
    sla_tasks: TaskSpec | None = None  # the `+tasks` of `sla:`, as the group `^sla`
    file: str | None = None
    workdir: str = ""  # folder of the file relative to the project, "" at top level
