"""Task instances: one node of a running attempt's tree."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dockerflow.graph.spec import RetrySpec, TaskSpec
from dockerflow.graph.states import TaskState, check_transition


@dataclass
class TaskResult:
    """What an operator (or a replayed record) hands back on success."""

    store: dict[str, Any] = field(default_factory=dict)
    export: dict[str, Any] = field(default_factory=dict)
    subtask_config: dict[str, Any] | None = None
    reset_store: list[str] = field(default_factory=list)
    sub_spec: TaskSpec | None = None  # compiled subtask_config

    def to_record(self) -> dict[str, Any]:
        rec: dict[str, Any] = {}
        if self.store:
            rec["store"] = self.store
        if self.export:
            rec["export"] = self.export
        if self.subtask_config is not None:
            rec["subtask_config"] = self.subtask_config
        if self.reset_store:
            rec["reset_store"] = self.reset_store
        return rec

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> TaskResult:
        return cls(store=rec.get("store", {}), export=rec.get("export", {}),
                   subtask_config=rec.get("subtask_config"),
                   reset_store=rec.get("reset_store", []))


class Task:
    """A task of an attempt. The scheduler owns every field; others only read."""

    __slots__ = ("id", "spec", "name", "full_name", "parent", "children", "upstreams",
                 "downstreams", "state", "retry_count", "retry_at", "retry", "delayed_error",
                 "delayed_group_error", "store", "export", "reset_store", "error", "active",
                 "store_children", "has_store")

    def __init__(self, tid: int, spec: TaskSpec, parent: Task | None,
                 name: str | None = None) -> None:
        self.id = tid
        self.spec = spec
        self.name = name or spec.name
        self.full_name: str = self.name if parent is None else parent.full_name + self.name
        self.parent = parent
        self.children: list[Task] = []
        self.upstreams: list[Task] = []
        self.downstreams: list[Task] = []
        self.state = TaskState.BLOCKED
        self.retry_count = 0
        self.retry_at = 0.0
        self.retry: RetrySpec | None = spec.retry if isinstance(spec.retry, RetrySpec) else None
        self.delayed_error = False
        self.delayed_group_error = False
        self.store: dict[str, Any] = {}
        self.export: dict[str, Any] = {}
        self.reset_store: list[str] = []
        self.error: dict[str, Any] | None = None
        self.active = 0  # children in a progressing state
        self.store_children = 0  # children whose subtree stored params
        self.has_store = False  # this subtree stored params

    @property
    def is_group(self) -> bool:
        return self.spec.is_group

    @property
    def generated(self) -> bool:
        return self.name.startswith("^")

    def set_state(self, new: TaskState) -> None:
        check_transition(self.state, new)
        self.state = new

    def ancestors(self) -> list[Task]:
        """Root first, excluding self."""
        out = []
        node = self.parent
        while node is not None:
            out.append(node)
            node = node.parent
        out.reverse()
        return out

    def __repr__(self) -> str:
        return f"<Task {self.id} {self.full_name} {self.state.value}>"
