"""Which parameters a task sees (spec §3.1), and Digdag's built-in variables (§3.2)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from dockerflow.dig.schedule import next_slot, previous_slot
from dockerflow.graph.spec import Schedule
from dockerflow.graph.task import Task
from dockerflow.timeutil import iso_offset, tz_compact


def deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `over` into `base` in place; nested objects merge, everything else replaces."""
    for key, value in over.items():
        old = base.get(key)
        if isinstance(value, Mapping) and isinstance(old, dict):
            base[key] = deep_merge(dict(old), value)
        elif isinstance(value, Mapping):
            base[key] = deep_merge({}, value)
        else:
            base[key] = value
    return base


def _apply_store(params: dict[str, Any], task: Task) -> None:
    for dotted in task.reset_store:
        _delete(params, dotted.split("."))
    if task.store:
        deep_merge(params, task.store)


def _delete(params: dict[str, Any], path: list[str]) -> None:
    node: Any = params
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(path[-1], None)


def _apply_subtree_stores(params: dict[str, Any], task: Task) -> None:
    """Pre-order: the task's store, then its children's subtrees."""
    if not task.has_store:
        return
    stack = [task]
    while stack:
        node = stack.pop()
        _apply_store(params, node)
        stack.extend(reversed([c for c in node.children if c.has_store]))


def _upstream_closure(task: Task) -> list[Task]:
    seen: dict[int, Task] = {}
    stack = list(task.upstreams)
    while stack:
        node = stack.pop()
        if node.id not in seen:
            seen[node.id] = node
            stack.extend(node.upstreams)
    return sorted(seen.values(), key=lambda t: t.id)


def visible_params(task: Task, attempt_params: Mapping[str, Any]) -> dict[str, Any]:
    """Raw (unevaluated) params of `task`: attempt params, then for each node from the root
    down: the stores of its upstream siblings' subtrees, then (for ancestors) its export and
    its own store; last the task's own `_export`."""
    params = deep_merge({}, attempt_params)
    path = task.ancestors()
    path.append(task)
    for node in path:
        parent = node.parent
        if parent is not None and parent.store_children and node.upstreams:
            for sib in _upstream_closure(node):
                _apply_subtree_stores(params, sib)
        if node is task:
            break
        if node.spec.export:
            deep_merge(params, node.spec.export)
        if node.export:
            deep_merge(params, node.export)
        _apply_store(params, node)
    if task.name == "^error" and task.parent is not None:
        for sib in task.parent.children:
            if sib is not task:
                _apply_subtree_stores(params, sib)
    if task.spec.export:
        deep_merge(params, task.spec.export)
    return params


class SessionInfo:
    """The session of an attempt and its built-in variables."""

    def __init__(self, session_time: datetime, timezone: str, schedule: Schedule | None,
                 session_id: int = 1, attempt_id: int = 1,
                 last_executed: datetime | None = None, retry_attempt_name: str = "",
                 session_uuid: str | None = None, project_id: int = 0) -> None:
        """`project_id`: the server's project, 0 in a local run (`${project_id}` is 1 there,
        as in Digdag)."""
        self.session_time = session_time
        self.project_id = project_id
        self.timezone = timezone
        self.schedule = schedule
        self.session_id = session_id
        self.attempt_id = attempt_id
        self.session_uuid = session_uuid or str(uuid.uuid4())
        self.last_executed = last_executed
        self.retry_attempt_name = retry_attempt_name
        self._static = self._compute()

    def _compute(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "timezone": self.timezone,
            "project_id": self.project_id or 1,
            "session_id": self.session_id,
            "attempt_id": self.attempt_id,
            "session_uuid": self.session_uuid,
            "retry_attempt_name": self.retry_attempt_name,
        }
        out.update(time_vars("session_", self.session_time))
        if self.schedule is not None:
            out.update(time_vars("last_session_", previous_slot(self.schedule, self.session_time)))
            out.update(time_vars("next_session_", next_slot(self.schedule, self.session_time)))
        if self.last_executed is not None:
            out.update(time_vars("last_executed_session_", self.last_executed))
        else:
            tz = tz_compact(datetime.fromtimestamp(0, self.session_time.tzinfo))
            out.update({f"last_executed_session_{k}": "" for k in
                        ("time", "date", "date_compact", "local_time", "unixtime")})
            out["last_executed_session_tz_offset"] = tz
        return out

    def builtins(self, task_name: str) -> dict[str, Any]:
        out = dict(self._static)
        out["task_name"] = task_name
        return out


def time_vars(prefix: str, t: datetime) -> dict[str, Any]:
    return {
        prefix + "time": iso_offset(t),
        prefix + "date": t.strftime("%Y-%m-%d"),
        prefix + "date_compact": t.strftime("%Y%m%d"),
        prefix + "local_time": t.strftime("%Y-%m-%d %H:%M:%S"),
        prefix + "tz_offset": tz_compact(t),
        prefix + "unixtime": int(t.timestamp()),
    }
