"""Pictures of a compiled task tree: Graphviz DOT (groups as clusters) and a text tree.

    to_dot(workflow) -> str      groups are clusters with a start and an end point; edges are
                                 the dependencies the scheduler uses (sibling_upstreams):
                                 sequences, `_parallel` (with `limit` chunks), `_after`,
                                 `_background`; `_error` / `_check` hang off their task with
                                 dashed edges; operators that generate children are marked
    to_text(workflow) -> list[str]

Pure: building the text needs no Graphviz; rendering to SVG or PNG is the CLI's job.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import graphviz

from dockerflow.graph.scheduler import sibling_upstreams
from dockerflow.graph.spec import TaskSpec, Workflow

GENERATORS = frozenset({"call", "if", "loop", "for_each", "for_range", "py", "http_call",
                        "require"})


@dataclass
class _Ends:
    """The nodes an edge into (start) and out of (end) a drawn task attaches to."""

    start: str
    end: str


class _Drawer:
    def __init__(self) -> None:
        self.ids = itertools.count()

    def node_id(self) -> str:
        return f"n{next(self.ids)}"

    def task(self, g: graphviz.Digraph, spec: TaskSpec, full: str) -> _Ends:
        ends = self.group(g, spec, full) if spec.is_group else self.operator(g, spec, full)
        for hook, label in ((spec.check, "check"), (spec.error, "on error")):
            if hook is not None:
                hook_ends = self.task(g, hook, full + hook.name)
                g.edge(ends.end, hook_ends.start, label=label, style="dashed",
                       color="firebrick" if hook is spec.error else "darkgreen")
        return ends

    def operator(self, g: graphviz.Digraph, spec: TaskSpec, full: str) -> _Ends:
        node = self.node_id()
        label = f"{spec.name}\\n{spec.op}>"
        attrs = {"shape": "box", "style": "rounded"}
        if spec.op in GENERATORS:
            label += f"\\ngenerates {spec.generates} tasks" if spec.generates else "\\ngenerates tasks"
            attrs = {"shape": "box", "style": "rounded,dashed", "peripheries": "2"}
        if spec.background:
            label += "\\n(background)"
        g.node(node, label, tooltip=full, **attrs)
        return _Ends(node, node)

    def group(self, g: graphviz.Digraph, spec: TaskSpec, full: str) -> _Ends:
        start, end = self.node_id(), self.node_id()
        kind = "parallel" + (f", limit {spec.limit}" if spec.limit else "") if spec.parallel \
            else "sequence"
        with g.subgraph(name=f"cluster_{self.node_id()}") as sub:
            sub.attr(label=f"{spec.name} ({kind})" + (" (background)" if spec.background else ""),
                     style="rounded", tooltip=full)
            sub.node(start, "", shape="point")
            sub.node(end, "", shape="point")
            kids = [self.task(sub, child, full + child.name) for child in spec.children]
            ups = sibling_upstreams(spec.children, spec.parallel, spec.limit)
            waited_for = {i for deps in ups for i in deps}
            for i, kid in enumerate(kids):
                if not ups[i]:
                    sub.edge(start, kid.start)
                for j in ups[i]:
                    sub.edge(kids[j].end, kid.start)
                if i not in waited_for:
                    sub.edge(kid.end, end)
            if not kids:
                sub.edge(start, end)
        return _Ends(start, end)


def to_dot(workflow: Workflow) -> str:
    """The task tree as Graphviz DOT source."""
    g = graphviz.Digraph(name=workflow.name, graph_attr={"rankdir": "LR", "compound": "true",
                                                         "fontname": "Helvetica"},
                         node_attr={"fontname": "Helvetica"}, edge_attr={"fontname": "Helvetica"})
    g.attr(label=f"{workflow.name} ({workflow.file or ''})", labelloc="t")
    _Drawer().task(g, workflow.root, workflow.root.name)
    return g.source


def to_text(workflow: Workflow) -> list[str]:
    """The task tree as indented lines, one per task (iterative: trees may be deep)."""
    lines: list[str] = []
    stack: list[tuple[TaskSpec, str, int, str]] = [(workflow.root, workflow.root.name, 0, "")]
    while stack:
        spec, full, depth, role = stack.pop()
        lines.append("  " * depth + role + full + "  " + _what(spec))
        nested: list[tuple[TaskSpec, str, int, str]] = []
        for child in spec.children:
            nested.append((child, full + child.name, depth + 1, ""))
        for hook, label in ((spec.error, "on error: "), (spec.check, "check: ")):
            if hook is not None:
                nested.append((hook, full + hook.name, depth + 1, label))
        stack.extend(reversed(nested))
    return lines


def _what(spec: TaskSpec) -> str:
    if spec.is_group:
        parts = ["parallel" + (f" limit {spec.limit}" if spec.limit else "")] if spec.parallel \
            else ["sequence"]
    else:
        parts = [f"{spec.op}>"]
        if spec.op in GENERATORS:
            parts.append(f"generates {spec.generates} tasks" if spec.generates
                         else "generates tasks")
    if spec.background:
        parts.append("background")
    if spec.after:
        parts.append("after " + ", ".join(spec.after))
    return "(" + "; ".join(parts) + ")"
