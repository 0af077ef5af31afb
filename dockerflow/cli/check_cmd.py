"""`dockerflow check`: validate a workflow and print its task tree with options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from dockerflow.dig.workflow import check_task_count, load_workflow
from dockerflow.graph.spec import RetrySpec, TaskSpec
from dockerflow.pathnames import workflow_path


def _fmt(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def describe(spec: TaskSpec, full: str, depth: int = 0) -> list[str]:
    pad = "  " * depth
    what = f"{spec.op}>" if spec.op else ("group, parallel" if spec.parallel else "group")
    opts = []
    if spec.limit:
        opts.append(f"limit {spec.limit}")
    if spec.background:
        opts.append("background")
    if spec.after:
        opts.append("after " + ",".join(spec.after))
    if isinstance(spec.retry, RetrySpec):
        opts.append(f"retry {spec.retry.limit}")
    elif spec.retry:
        opts.append(f"retry {spec.retry}")
    head = f"{pad}{full}  ({what}{'; ' + ', '.join(opts) if opts else ''})"
    lines = [head]
    if spec.op:
        for key, value in spec.config.items():
            lines.append(f"{pad}    {key}: {_fmt(value)}")
    for key, value in spec.export.items():
        lines.append(f"{pad}    _export.{key}: {_fmt(value)}")
    for child in spec.children:
        lines.extend(describe(child, full + child.name, depth + 1))
    for hook in (spec.error, spec.check):
        if hook is not None:
            lines.extend(describe(hook, full + hook.name, depth + 1))
    return lines


@click.command("check")
@click.argument("workflow")
@click.option("--project", type=click.Path(file_okay=False), default=".")
@click.option("--max-tasks", type=click.IntRange(1), default=100_000, show_default=True,
              help="Refuse workflows whose literal loops would make more tasks than this.")
def check(workflow: str, project: str, max_tasks: int) -> None:
    """Validate WORKFLOW and print its tasks; exit 2 on any problem."""
    proj = Path(project).resolve()
    warnings: list[str] = []
    wf = load_workflow(workflow_path(proj, workflow), proj, warnings=warnings)
    check_task_count(wf, max_tasks)
    for w in warnings:
        click.echo(f"warning: {w}", err=True)
    click.echo(f"workflow: {wf.name}")
    click.echo(f"timezone: {wf.timezone}")
    if wf.schedule:
        click.echo(f"schedule: {wf.schedule.kind}> {wf.schedule.value}")
    click.echo("tasks:")
    for line in describe(wf.root, wf.root.name, 1):
        click.echo(line)
    click.echo("OK", err=True)
