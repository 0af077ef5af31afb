"""`dockerflow run --junit FILE`: the run as a JUnit XML report, one test case per task.

The format is the common one that Jenkins, GitLab and GitHub Actions' test-report actions
read (tests/data/junit.xsd describes it):

    <testsuites name=... tests= failures= errors= skipped= time=>
      <testsuite name=WORKFLOW tests= failures= errors= skipped= time= timestamp= hostname=>
        <properties><property name="session_time" value=.../>...</properties>
        <testcase name="+wf+load" classname=WORKFLOW time=SECONDS>
          <failure message="Command failed with code 1" type="TaskFailure">the message,
            then the last lines the task printed</failure>          (a failed task)
          <error message=... type="Interrupted"/>                  (stopped while running)
          <skipped message="succeeded before"/>                     (or cached, not run...)
        </testcase>

Every operator task the attempt knew of is a case: those that ran, were replayed, skipped
or cached (from the reporter's events, records.py) and, from the scheduler's task tree,
those that never got to run (after a failure, or a Ctrl-C) as skipped "not run".
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from dockerflow.runtime.records import FAILED, PASSED, RETRYING, RUNNING, SKIPPED, TaskRecord

# Characters XML 1.0 can't hold (most C0 controls), and terminal escape sequences.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
MESSAGE_CHARS = 1000


def clean(text: str) -> str:
    """Text an XML parser accepts: terminal colors removed, other controls dropped."""
    return _NOT_XML.sub("", _ANSI.sub("", text))


@dataclass
class Case:
    name: str
    classname: str
    seconds: float = 0.0
    kind: str = PASSED  # passed, failure, error, skipped
    message: str = ""
    type: str = ""
    body: str = ""


def _classname(task_name: str, default: str) -> str:
    """The workflow a task belongs to: `+wf+a` -> wf (a require>d workflow's tasks keep
    theirs)."""
    if task_name.startswith("+"):
        head = task_name[1:].split("+", 1)[0].split("^", 1)[0]
        if head:
            return head
    return default


def _first_line(message: str) -> str:
    line = message.strip().splitlines()[0] if message.strip() else ""
    return line if len(line) <= MESSAGE_CHARS else line[:MESSAGE_CHARS - 3] + "..."


def _body(message: str, tail: list[str]) -> str:
    if not tail:
        return message
    return f"{message}\n\n--- the last {len(tail)} lines of output ---\n" + "\n".join(tail)


def cases(records: Iterable[TaskRecord], workflow: str, tails: Mapping[str, list[str]],
          interrupted: str | None = None, engine_unavailable: Iterable[str] = (),
          not_run: Iterable[tuple[str, str | None]] = ()) -> list[Case]:
    """The test cases: `records` from the Recorder; `not_run` (name, error message or None)
    for tasks of the tree that have no record; `interrupted` names the signal that stopped
    the run."""
    engine = set(engine_unavailable)
    out: list[Case] = []
    seen: set[str] = set()
    for rec in records:
        seen.add(rec.name)
        case = Case(rec.name, _classname(rec.name, workflow), rec.seconds)
        tail = tails.get(rec.name, [])
        if rec.state == FAILED and rec.stopped and interrupted:
            what = f"stopped by {interrupted} while running"
            case.kind, case.type = "error", "Interrupted"
            case.message, case.body = what, _body(f"{what}: {rec.message}", tail)
        elif rec.state == FAILED:
            case.kind = "error" if rec.name in engine else "failure"
            case.type = "EngineUnavailable" if rec.name in engine else "TaskFailure"
            case.message, case.body = _first_line(rec.message), _body(rec.message, tail)
        elif rec.state in (RUNNING, RETRYING):
            stop = f"stopped by {interrupted}" if interrupted else "did not finish"
            what = f"{stop} while waiting to be retried after: {rec.message}" \
                if rec.state == RETRYING else f"{stop} while running"
            case.kind, case.type = "error", "Interrupted" if interrupted else "Unfinished"
            case.message, case.body = _first_line(what), _body(what, tail)
        elif rec.state == SKIPPED:
            case.kind, case.message = "skipped", rec.message or "skipped"
        out.append(case)
    reason = f"not run: stopped by {interrupted}" if interrupted else "not run"
    for name, error in not_run:
        if name in seen:
            continue
        case = Case(name, _classname(name, workflow))
        if error is not None:
            case.kind, case.type = "failure", "TaskFailure"
            case.message, case.body = _first_line(error), error
        else:
            case.kind, case.message = "skipped", reason
        out.append(case)
    return out


def tree_tasks(root: Any) -> Iterator[tuple[str, str | None]]:
    """(full name, error message or None) of every operator task of a scheduler's task tree
    (graph/task.py), in order; groups that never started are read from their specs."""
    stack: list[tuple[str, Any, bool]] = [(root.full_name, root, True)]
    while stack:
        name, node, is_task = stack.pop()
        if is_task:
            spec = node.spec
            if not node.is_group:
                failed = node.state.value == "error" and node.error \
                    and not any(c.state.failed for c in node.children)
                yield name, str(node.error.get("message")) if failed else None
            if node.children:
                stack.extend((c.full_name, c, True) for c in reversed(node.children))
            elif node.is_group:
                stack.extend((name + s.name, s, False) for s in reversed(spec.children))
        else:
            if not node.is_group:
                yield name, None
            stack.extend((name + s.name, s, False) for s in reversed(node.children))


def render(cases_: list[Case], workflow: str, started: float, seconds: float,
           properties: Mapping[str, str] | None = None, hostname: str | None = None) -> str:
    counts = {k: sum(1 for c in cases_ if c.kind == k) for k in ("failure", "error", "skipped")}
    totals = (f'tests="{len(cases_)}" failures="{counts["failure"]}" errors="{counts["error"]}"'
              f' skipped="{counts["skipped"]}" time="{seconds:.3f}"')
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started))
    host = clean(hostname if hostname is not None else socket.gethostname()) or "localhost"
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f"<testsuites name={quoteattr(clean(workflow))} {totals}>",
             f"  <testsuite name={quoteattr(clean(workflow))} {totals}"
             f' timestamp="{stamp}" hostname={quoteattr(host)}>']
    if properties:
        lines.append("    <properties>")
        lines.extend(f"      <property name={quoteattr(clean(k))} value={quoteattr(clean(v))}/>"
                     for k, v in properties.items())
        lines.append("    </properties>")
    for c in cases_:
        head = (f"    <testcase name={quoteattr(clean(c.name))}"
                f" classname={quoteattr(clean(c.classname))} time=\"{max(c.seconds, 0.0):.3f}\"")
        if c.kind == PASSED:
            lines.append(head + "/>")
            continue
        lines.append(head + ">")
        if c.kind == "skipped":
            lines.append(f"      <skipped message={quoteattr(clean(c.message))}/>")
        else:
            lines.append(f"      <{c.kind} message={quoteattr(clean(c.message))}"
                         f" type={quoteattr(c.type)}>{escape(clean(c.body))}</{c.kind}>")
        lines.append("    </testcase>")
    lines += ["  </testsuite>", "</testsuites>", ""]
    return "\n".join(lines)


def write(path: Path, text: str) -> None:
    """Replace `path` whole (a reader never sees half a report)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide it from other readers
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
