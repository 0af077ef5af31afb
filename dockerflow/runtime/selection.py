"""Which tasks a local run executes, replays from saved results, or skips (--start/--goal/...)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from dockerflow.graph.spec import TaskSpec
from dockerflow.graph.task import Task


class Mode(str, Enum):
    RUN = "run"  # run it, ignoring any saved result
    RESUME = "resume"  # replay its saved result if there is one, else run it
    SKIP = "skip"  # succeed without running (outside the selected part)
    SKIP_OR_REPLAY = "skip_or_replay"  # replay a saved result if any, else succeed empty


@dataclass(frozen=True)
class Selection:
    """`--start T`, `--goal T`, `--end T`, the `+task` argument, or none (plain resume)."""

    kind: str = "all"  # all | rerun | start | goal | end | only
    target: str | None = None  # full name of T

    def mode(self, task: Task) -> Mode:
        if self.kind == "rerun":
            return Mode.RUN
        if self.kind == "all" or self.target is None:
            return Mode.RESUME
        where = relation(task, self.target)
        if self.kind == "start":
            return Mode.RESUME if where == "before" else Mode.RUN
        if self.kind == "goal":
            return {"before": Mode.RESUME, "at": Mode.RUN}.get(where, Mode.SKIP)
        if self.kind == "end":
            return Mode.RESUME if where == "before" else Mode.SKIP
        # only: the subtree of the target
        return Mode.RESUME if where == "at" else Mode.SKIP_OR_REPLAY if where == "before" \
            else Mode.SKIP


def _inside(name: str, target: str) -> bool:
    return name == target or name.startswith(target + "+") or name.startswith(target + "^")


def relation(task: Task, target: str) -> str:
    """'at' (T or inside it), 'ancestor', 'before' (runs earlier than T), or 'after'."""
    if _inside(task.full_name, target):
        return "at"
    if _inside(target, task.full_name):
        return "ancestor"
    path = task.ancestors()
    path.append(task)
    for i in range(len(path) - 1, 0, -1):
        lca = path[i - 1]
        if _inside(target, lca.full_name):
            mine = path[i]
            theirs = next((c for c in lca.children if _inside(target, c.full_name)), None)
            if theirs is None:
                return "after"
            seen = set()
            stack = list(theirs.upstreams)
            while stack:
                node = stack.pop()
                if node is mine:
                    return "before"
                if node.id not in seen:
                    seen.add(node.id)
                    stack.extend(node.upstreams)
            return "after"
    return "after"


def find_task(root: TaskSpec, pattern: str) -> str:
    """Resolve a `+name` pattern (a suffix of a full name) to exactly one static task."""
    if not pattern.startswith("+"):
        pattern = "+" + pattern
    matches: list[str] = []

    def walk(spec: TaskSpec, full: str) -> None:
        if full.endswith(pattern):
            matches.append(full)
        for child in spec.children:
            walk(child, full + child.name)

    walk(root, root.name)
    if not matches:
        raise LookupError(f"task '{pattern}' is not in the workflow")
    if len(matches) > 1:
        raise LookupError(f"task '{pattern}' matches several tasks: {', '.join(matches)};"
                          " give more of its name")
    return matches[0]
