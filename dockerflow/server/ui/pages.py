"""The UI's pages as HTML strings, each rendered from the store in one request (the page's main
content needs no second round trip); ui.js adds live updates and the actions.

Pages return `Page(status, html)`; an unknown id is a 404 page, a bad query parameter is
ignored (the default), never a 500.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import Any

from dockerflow.server.ui import data
from dockerflow.server.ui.highlight import highlight_dig
from dockerflow.server.ui.html import (
    badge,
    duration,
    esc,
    int_param,
    json_script,
    not_found,
    page,
    session_when,
    url,
    when,
    zone_of,
)
from dockerflow.store.base import AttemptRecord, AttemptStatus, ProjectRecord, Store, TaskRecord, WorkflowRecord
from dockerflow.timeutil import iso_offset

PAGE_SIZE = 50
TASK_ROWS = 300  # rows of the task tree shown at first (an attempt may have 100,000 tasks)
MAX_ERRORS = 50
DONE_STATES = frozenset({"success", "error", "group_error", "canceled"})
PROBLEM_STATES = frozenset({"error", "group_error", "canceled", "retry_waiting", "group_retry_waiting"})
ACTIVE_STATES = frozenset({"ready", "running", "retry_waiting", "group_retry_waiting", "planned"})
MAX_LOG_LINES = 20_000


@dataclass
class Page:
    status: int
    html: str


def _missing(what: str) -> Page:
    return Page(404, not_found(what))


class Names:
    """Project names and workflow zones, cached (projects are renamed never, definitions are
    immutable)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.projects: dict[int, str] = {}
        self.zones: dict[int, str] = {}

    def project(self, project_id: int) -> str:
        if project_id not in self.projects:
            found = self.store.project(project_id) if project_id else None
            self.projects[project_id] = found.name if found is not None else ""
        return self.projects[project_id]

    def zone(self, workflow_id: int | None) -> tzinfo:
        if workflow_id is None:
            return timezone.utc
        if workflow_id not in self.zones:
            found = self.store.workflow_definition(workflow_id)
            self.zones[workflow_id] = found.timezone if found is not None else "UTC"
        return zone_of(self.zones[workflow_id])


def attempt_state(record: AttemptRecord) -> str:
    if record.status is AttemptStatus.RUNNING:
        return "killing" if record.cancel_requested else "running"
    if record.status is AttemptStatus.ERROR and record.cancel_requested:
        return "killed"
    return record.status.value


def _table(head: Iterable[str], rows: list[str], empty: str, cls: str = "") -> str:
    if not rows:
        return f'<p class="muted">{esc(empty)}</p>'
    th = "".join(f'<th scope="col">{h}</th>' for h in head)
    return (f'<div class="scroll"><table class="{cls}"><thead><tr>{th}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def _kv(pairs: Iterable[tuple[str, str]]) -> str:
    return '<dl class="kv">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def _live_project(store: Store, project_id: int) -> ProjectRecord | None:
    found = store.project(project_id)
    return found if found is not None and found.deleted_at is None else None


# -- projects ----------------------------------------------------------------------------------
def projects_page(store: Store, last_id: str | None) -> Page:
    after = int_param(last_id, 0) or 0
    records = store.projects(last_id=after, count=PAGE_SIZE + 1)
    more = len(records) > PAGE_SIZE
    records = records[:PAGE_SIZE]
    rows = []
    for r in records:
        latest = store.revision(r.id)
        workflows = store.workflows_of(latest.id) if latest is not None else []
        links = ", ".join(f'<a href="/workflows/{w.id}">{esc(w.name)}</a>' for w in workflows[:10])
        if len(workflows) > 10:
            links += f" and {len(workflows) - 10} more"
        rows.append(f'<tr><td><a href="/projects/{r.id}">{esc(r.name)}</a></td>'
                    f'<td>{esc(latest.name if latest else "")}</td>'
                    f'<td>{when(r.updated_at or r.created_at, timezone.utc)}</td><td>{links}</td></tr>')
    pager = []
    if after:
        pager.append('<a href="/">First page</a>')
    if more:
        pager.append(f'<a href="{url("/", last_id=records[-1].id)}" rel="next">Next page</a>')
    body = ("<h1>Projects</h1>"
            + _table(["Project", "Revision", "Updated", "Workflows"], rows,
                     "No projects yet: push one with `dockerflow push`.")
            + (f'<nav class="pager" aria-label="Pages">{" ".join(pager)}</nav>' if pager else ""))
    return Page(200, page("Projects", body, active="projects"))


def project_page(store: Store, project_id: int) -> Page:
    project = _live_project(store, project_id)
    if project is None:
        return _missing(f"There is no project with id {project_id}.")
    latest = store.revision(project.id)
    workflows = store.workflows_of(latest.id) if latest is not None else []
    wf_rows = []
    for w in workflows:
        sched = w.config.get("schedule")
        what = ", ".join(f"{esc(k)} {esc(v)}" for k, v in sched.items()) if isinstance(sched, dict) else ""
        wf_rows.append(f'<tr><td><a href="/workflows/{w.id}">{esc(w.name)}</a></td><td>{esc(w.timezone)}</td>'
                       f'<td>{what or "<span class=muted>none</span>"}</td>'
                       f'<td><a href="/workflows/{w.id}#start">Start…</a></td></tr>')
    rev_rows = [f'<tr><td>{esc(r.name)}</td><td>{when(r.created_at, timezone.utc)}</td>'
                f'<td><code>{esc(r.archive_md5)}</code></td></tr>' for r in store.revisions(project.id)[:50]]
    zones = {w.name: zone_of(w.timezone) for w in workflows}
    recent = store.attempts(project_id=project.id, page_size=10)
    names = Names(store)
    body = (
        f'<h1>Project {esc(project.name)}</h1>'
        + _kv([("Id", esc(project.id)), ("Latest revision", esc(latest.name if latest else "none")),
               ("Created", when(project.created_at, timezone.utc))])
        + '<section aria-labelledby="h-workflows"><h2 id="h-workflows">Workflows</h2>'
        + _table(["Workflow", "Time zone", "Schedule", ""], wf_rows, "This revision has no workflows.")
        + "</section>"
        + schedules_section(store, project.id, zones)
        + secrets_section(store, project.id)
        + '<section aria-labelledby="h-recent"><h2 id="h-recent">Recent attempts</h2>'
        + attempts_table(recent, names)
        + f'<p><a href="{url("/attempts", project=project.name)}">All attempts of {esc(project.name)}</a> · '
          f'<a href="{url("/sessions", project=project.name)}">Sessions</a></p></section>'
        + '<section aria-labelledby="h-revisions"><h2 id="h-revisions">Revisions</h2>'
        + _table(["Revision", "Pushed", "Archive MD5"], rev_rows, "No revisions.") + "</section>")
    return Page(200, page(project.name, body, crumbs=[("Projects", "/"), (project.name, None)],
                          active="projects"))


def schedules_section(store: Store, project_id: int, zones: dict[str, tzinfo],
                      workflow: str | None = None) -> str:
    rows = []
    for s in data.schedules_of(store, project_id, workflow):
        zone = zones.get(s.workflow, timezone.utc)
        enabled = s.disabled_at is None
        action = "disable" if enabled else "enable"
        state = badge("enabled") if enabled else badge("disabled")
        rows.append(
            f'<tr><td><a href="/workflows/{s.workflow_id}">{esc(s.workflow)}</a></td><td>{state}</td>'
            f'<td>{session_when(s.next_schedule_time, zone) if s.next_schedule_time else ""}</td>'
            f'<td>{when(s.next_run_time, zone) if s.next_run_time is not None else ""}</td>'
            f'<td><button type="button" data-action="schedule" data-schedule="{s.id}"'
            f' data-op="{action}">{action.capitalize()}</button></td></tr>')
    title = "Schedule" if workflow else "Schedules"
    return (f'<section aria-labelledby="h-schedules"><h2 id="h-schedules">{title}</h2>'
            + _table(["Workflow", "State", "Next session", "Next run", ""], rows,
                     "No schedules." if workflow is None else "No schedule record for this workflow.")
            + '<p class="notice" role="status" id="schedule-message" hidden></p></section>')


def secrets_section(store: Store, project_id: int) -> str:
    keys = data.secret_keys(store, project_id)
    if not keys:
        inner = ('<p class="muted">No secrets (set them with <code>dockerflow secrets --project'
                 ' NAME --set KEY</code>).</p>')
    else:
        inner = "<ul class=keys>" + "".join(f"<li><code>{esc(k)}</code></li>" for k in keys) + "</ul>"
    return f'<section aria-labelledby="h-secrets"><h2 id="h-secrets">Secret keys</h2>{inner}</section>'


# -- workflow ----------------------------------------------------------------------------------
def workflow_page(store: Store, workflow_id: int) -> Page:
    record = store.workflow_definition(workflow_id)
    project = store.project(record.project_id) if record is not None else None
    if record is None or project is None:
        return _missing(f"There is no workflow with id {workflow_id}.")
    zone = zone_of(record.timezone)
    latest = store.revision(project.id)
    note = ""
    if project.deleted_at is not None:
        note = '<p class="notice">Its project is deleted.</p>'
    elif latest is not None and latest.id != record.revision_id:
        newer = store.workflows_of(latest.id, record.name)
        link = f' <a href="/workflows/{newer[0].id}">See the latest one</a>.' if newer else ""
        note = f'<p class="notice">This is revision {esc(record.revision)}, not the latest.{link}</p>'
    source = data.workflow_source(store, record)
    svg, problem = data.workflow_picture(store, record)
    names = Names(store)
    recent = store.attempts(project_id=project.id, workflow=record.name, include_retried=False,
                            page_size=20)
    now = datetime.now(timezone.utc).astimezone(zone).replace(microsecond=0)
    body = (
        f"<h1>Workflow {esc(record.name)}</h1>{note}"
        + _kv([("Project", f'<a href="/projects/{project.id}">{esc(project.name)}</a>'),
               ("Revision", esc(record.revision)), ("Time zone", esc(record.timezone)),
               ("Id", esc(record.id))])
        + start_form(record, now)
        + schedule_block(store, record, zone)
        + '<section aria-labelledby="h-graph"><h2 id="h-graph">Task graph</h2>'
        + (f'<div class="graph scroll">{svg}</div>' if svg else f'<p class="muted">{esc(problem)}</p>')
        + "</section>"
        + '<section aria-labelledby="h-def"><h2 id="h-def">Definition</h2>'
        + (f'<pre class="dig scroll" tabindex="0" aria-label="{esc(record.name)}.dig"><code>'
           f'{highlight_dig(source)}</code></pre>' if source is not None
           else "<pre class=scroll><code>" + esc(json.dumps(record.config, indent=2)) + "</code></pre>")
        + "</section>"
        + '<section aria-labelledby="h-sessions"><h2 id="h-sessions">Sessions</h2>'
        + sessions_table(recent, names)
        + f'<p><a href="{url("/sessions", project=project.name, workflow=record.name)}">All sessions</a>'
          f' · <a href="{url("/attempts", project=project.name, workflow=record.name)}">All attempts</a></p>'
        + "</section>")
    return Page(200, page(record.name, body, crumbs=[("Projects", "/"), (project.name, f"/projects/{project.id}"),
                                                      (record.name, None)],
                          data={"page": "workflow", "workflow-id": str(record.id)}, active="projects"))


def start_form(record: WorkflowRecord, now: datetime) -> str:
    return (
        '<section aria-labelledby="h-start" id="start"><h2 id="h-start">Start</h2>'
        f'<form class="start" data-workflow-id="{record.id}">'
        '<label for="session-time">Session time <span class="muted">(ISO 8601 with an offset)</span></label>'
        f'<input id="session-time" name="sessionTime" value="{esc(iso_offset(now))}" required'
        ' autocomplete="off" spellcheck="false">'
        '<label for="params">Params <span class="muted">(a JSON object)</span></label>'
        '<textarea id="params" name="params" rows="3" spellcheck="false">{}</textarea>'
        '<div><button type="submit" class="primary">Start an attempt</button></div>'
        '<p class="error-text" role="alert" id="start-message" hidden></p>'
        "</form></section>")


def schedule_block(store: Store, record: WorkflowRecord, zone: tzinfo) -> str:
    raw = record.config.get("schedule")
    if not isinstance(raw, dict):
        return ('<section aria-labelledby="h-schedules"><h2 id="h-schedules">Schedule</h2>'
                '<p class="muted">This workflow has no schedule.</p></section>')
    runs = data.next_runs(record.config, zone)
    what = ", ".join(f"<code>{esc(k)}: {esc(v)}</code>" for k, v in raw.items())
    items = "".join(f"<li>session {session_when(iso_offset(s), zone)} runs at"
                    f" {session_when(iso_offset(r), zone)}</li>" for s, r in runs)
    section = schedules_section(store, record.project_id, {record.name: zone}, record.name)
    head = f'<p>{what}</p><h3>Next runs</h3><ol class="runs">{items}</ol>' if items else f"<p>{what}</p>"
    return section.replace("</h2>", "</h2>" + head, 1)


# -- sessions and attempts ---------------------------------------------------------------------
def _attempt_times(r: AttemptRecord, zone: tzinfo) -> tuple[str, str]:
    end = r.finished_at if r.finished_at is not None else (time.time() if not r.status.done else None)
    return when(r.started_at, zone), duration(end - r.started_at if end is not None else None)


def _cells(r: AttemptRecord, names: Names) -> dict[str, str]:
    """The cells both lists show of an attempt (a session's newest, in the sessions list)."""
    zone = names.zone(r.workflow_id)
    created, took = _attempt_times(r, zone)
    project = names.project(r.project_id)
    return {
        "attempt": f'<a href="/attempts/{r.id}">#{r.id}</a>',
        "status": badge(attempt_state(r)),
        "project": f"<a href=/projects/{r.project_id}>{esc(project)}</a>" if project else "",
        "workflow": (f'<a href="/workflows/{r.workflow_id}">{esc(r.workflow)}</a>' if r.workflow_id
                     else esc(r.workflow)),
        "session": session_when(r.session_time, zone),
        "times": f'<td>{created}</td><td class="num">{took}</td>',
    }


def attempts_table(records: list[AttemptRecord], names: Names) -> str:
    rows = []
    for r in records:
        c = _cells(r, names)
        rows.append(
            f'<tr><td>{c["attempt"]}</td><td>{c["status"]}</td><td>{c["project"]}</td>'
            f'<td>{c["workflow"]}</td><td>{c["session"]}</td>'
            f'<td>{esc(r.retry_attempt_name or "")}</td>{c["times"]}</tr>')
    return _table(["Attempt", "Status", "Project", "Workflow", "Session time", "Retry", "Started",
                   "Duration"], rows, "No attempts.", "list")


def sessions_table(records: list[AttemptRecord], names: Names) -> str:
    """Sessions by their newest attempt (what attempts(include_retried=False) returns)."""
    rows = []
    for r in records:
        c = _cells(r, names)
        rows.append(
            f'<tr><td>{r.session_id}</td><td>{c["project"]}</td><td>{c["workflow"]}</td>'
            f'<td>{c["session"]}</td><td>{c["status"]}</td>'
            f'<td>{c["attempt"]}{f" (attempt {r.index})" if r.index > 1 else ""}</td>{c["times"]}</tr>')
    return _table(["Session", "Project", "Workflow", "Session time", "Status", "Last attempt",
                   "Started", "Duration"], rows, "No sessions.", "list")


STATUSES = ("running", "success", "error", "killed", "refused")


def list_page(store: Store, kind: str, params: dict[str, str | None]) -> Page:
    """/sessions and /attempts: filters (status, project, workflow) and keyset paging."""
    project_name = (params.get("project") or "").strip()
    workflow = (params.get("workflow") or "").strip()
    status_text = (params.get("status") or "").strip()
    status = AttemptStatus(status_text) if status_text in STATUSES else None
    last_id = int_param(params.get("last_id"), None, 1)
    notice = ""
    records: list[AttemptRecord] = []
    project_id = None
    if project_name:
        found = store.live_project(project_name)
        if found is None:
            notice = f'<p class="notice" role="status">No project is named {esc(project_name)}.</p>'
        else:
            project_id = found.id
    if not notice:
        records = store.attempts(project_id=project_id, workflow=workflow or None,
                                 include_retried=kind == "attempts", last_id=last_id,
                                 page_size=PAGE_SIZE + 1, status=status)
    more = len(records) > PAGE_SIZE
    records = records[:PAGE_SIZE]
    names = Names(store)
    base = f"/{kind}"
    keep = {"project": project_name, "workflow": workflow, "status": status.value if status else ""}
    pager = []
    if last_id is not None:
        pager.append(f'<a href="{esc(url(base, **keep))}">Newest</a>')
    if more:
        pager.append(f'<a href="{esc(url(base, **keep, last_id=records[-1].id))}" rel="next">Older</a>')
    project_options = "".join(
        f'<option{" selected" if p.name == project_name else ""}>{esc(p.name)}</option>'
        for p in store.projects(count=500))
    status_options = "".join(f'<option{" selected" if status and status.value == s else ""}>{s}</option>'
                             for s in STATUSES)
    title = "Sessions" if kind == "sessions" else "Attempts"
    form = (
        f'<form class="filters" method="get" action="{base}" role="search" aria-label="Filter {kind}">'
        f'<label>Status <select name="status"><option value="">any</option>{status_options}</select></label>'
        f'<label>Project <select name="project"><option value="">any</option>{project_options}</select></label>'
        f'<label>Workflow <input name="workflow" value="{esc(workflow)}" size="14"></label>'
        '<button type="submit">Filter</button></form>')
    table = sessions_table(records, names) if kind == "sessions" else attempts_table(records, names)
    body = (f"<h1>{title}</h1>{form}{notice}{table}"
            + (f'<nav class="pager" aria-label="Pages">{" ".join(pager)}</nav>' if pager else ""))
    return Page(200, page(title, body, active=kind))


# -- attempt -----------------------------------------------------------------------------------
@dataclass
class AttemptView:
    record: AttemptRecord
    tasks: list[TaskRecord]
    zone: tzinfo
    logs: set[str]
    show: str
    rows: int


def load_attempt(store: Store, attempt_id: int, show: str | None, rows: str | None) -> AttemptView | None:
    record = store.get_attempt(attempt_id)
    if record is None:
        return None
    tasks = store.tasks(attempt_id)
    tasks.sort(key=lambda r: (r.task_id is None, r.task_id or 0, r.name))
    zone = Names(store).zone(record.workflow_id)
    return AttemptView(record, tasks, zone, set(store.log_tasks(attempt_id)),
                       show if show in ("all", "problems", "active") else "all",
                       int_param(rows, TASK_ROWS, 1) or TASK_ROWS)


def attempt_page(store: Store, view: AttemptView) -> Page:
    r = view.record
    names = Names(store)
    project = names.project(r.project_id)
    zone = view.zone
    images = store.attempt_images(r.id)
    image_rows = [f"<tr><td>{esc(k)}</td><td><code>{esc(v)}</code></td></tr>" for k, v in sorted(images.items())]
    sections = live_sections(store, view)
    wf = (f'<a href="/workflows/{r.workflow_id}">{esc(r.workflow)}</a>' if r.workflow_id else esc(r.workflow))
    crumbs: list[tuple[str, str | None]] = [("Attempts", "/attempts")]
    if project:
        crumbs = [("Projects", "/"), (project, f"/projects/{r.project_id}")]
        if r.workflow_id:
            crumbs.append((r.workflow, f"/workflows/{r.workflow_id}"))
    crumbs.append((f"attempt {r.id}", None))
    body = (
        f'<h1>Attempt #{r.id} <span class="sub">{wf} · {session_when(r.session_time, zone)}</span></h1>'
        + f'<section id="summary" aria-label="Summary" data-live>{sections["summary"]}</section>'
        + f'<section id="errors" aria-label="Errors" data-live>{sections["errors"]}</section>'
        + f'<section id="tasks" aria-labelledby="h-tasks" data-live>{sections["tasks"]}</section>'
        + '<section aria-labelledby="h-params"><h2 id="h-params">Params</h2>'
        + '<pre class="scroll params" tabindex="0">'
        + esc(json.dumps(r.params, indent=2, sort_keys=True)) + "</pre></section>"
        + '<section aria-labelledby="h-images"><h2 id="h-images">Images</h2>'
        + _table(["Task", "Image"], image_rows, "No container images (host tasks only, or none ran yet).")
        + "</section>"
        + json_script("attempt-data", {"id": str(r.id), "workflowId": str(r.workflow_id or ""),
                                       "sessionTime": r.session_time, "params": r.params}))
    return Page(200, page(f"Attempt {r.id}", body, crumbs=crumbs, active="attempts", data={
        "page": "attempt", "attempt": str(r.id), "live": "0" if r.status.done else "1",
        "show": view.show, "rows": str(view.rows)}))


def live_sections(store: Store, view: AttemptView) -> dict[str, str]:
    return {"summary": _summary(view) + _details(store, view), "errors": _errors(view),
            "tasks": _tasks(view)}


def _details(store: Store, view: AttemptView) -> str:
    r = view.record
    project = Names(store).project(r.project_id)
    others = " ".join(
        (f'<a href="/attempts/{a.id}">#{a.index} {badge(attempt_state(a))}</a>' if a.id != r.id
         else f'<strong aria-current="true">#{a.index} {badge(attempt_state(a))}</strong>')
        for a in store.session_attempts(r.session_id))
    return _kv([("Project", f'<a href="/projects/{r.project_id}">{esc(project)}</a>' if project else "–"),
                ("Session", f"{r.session_id} (time {session_when(r.session_time, view.zone)})"),
                ("Retry name", esc(r.retry_attempt_name or "–")),
                ("Attempts of the session", others)])


def _summary(view: AttemptView) -> str:
    r = view.record
    zone = view.zone
    state = attempt_state(r)
    end = r.finished_at if r.finished_at is not None else time.time()
    counts: dict[str, int] = {}
    for t in view.tasks:
        counts[t.state] = counts.get(t.state, 0) + 1
    tally = " ".join(f"{badge(s)} {n:,}" for s, n in sorted(counts.items()))
    actions = []
    if not r.status.done and not r.cancel_requested:
        actions.append('<button type="button" id="kill" class="danger" data-action="kill">Kill</button>')
    if r.status.done and r.workflow_id:
        if r.status is not AttemptStatus.SUCCESS:
            actions.append('<button type="button" id="retry-failed" data-action="retry-failed">'
                           "Retry failed</button>")
        names = [t.name for t in view.tasks if t.parent_id is not None][:1000]
        options = "".join(f'<option value="{esc(n)}"></option>' for n in names)
        actions.append(
            '<span class="from"><label for="from-task">Retry from task</label>'
            '<input id="from-task" list="task-names" placeholder="+wf+task" spellcheck="false"'
            f' autocomplete="off"><datalist id="task-names">{options}</datalist>'
            '<button type="button" id="retry-from" data-action="retry-from">Retry from</button></span>')
    return (
        f'<p class="status-line">{badge(state)} started {when(r.started_at, zone)}'
        + (f" · finished {when(r.finished_at, zone)}" if r.finished_at is not None else "")
        + f' · <span class="num">{duration(end - r.started_at)}</span>'
        + (" · kill requested" if r.cancel_requested and not r.status.done else "") + "</p>"
        + f'<p class="tally">{len(view.tasks):,} tasks: {tally}</p>'
        + (f'<div class="actions">{"".join(actions)}</div>' if actions else "")
        + '<p class="error-text" role="alert" id="action-message" hidden></p>')


def log_link(attempt_id: int, name: str, label: str = "log") -> str:
    return f'<a href="{esc(url(f"/attempts/{attempt_id}/log", task=name))}">{esc(label)}</a>'


def _error_text(error: dict[str, Any]) -> str:
    message = error.get("message")
    if isinstance(message, str) and message:
        return message
    return json.dumps(error, sort_keys=True)


def _errors(view: AttemptView) -> str:
    failed = [t for t in view.tasks if t.error and t.state == "error"]
    if not failed:  # a group's error repeats its child's: groups only when no task failed itself
        failed = [t for t in view.tasks if t.error and t.state == "group_error"]
    if not failed:
        return ""
    items = []
    for t in failed[:MAX_ERRORS]:
        items.append(
            f'<li><div class="err-head"><strong>{esc(t.name)}</strong> {badge(t.state)} '
            + (log_link(view.record.id, t.name, "Log") if t.name in view.logs else "")
            + f'</div><pre class="err scroll">{esc(_error_text(t.error or {}))}</pre></li>')
    more = f"<p>and {len(failed) - MAX_ERRORS:,} more</p>" if len(failed) > MAX_ERRORS else ""
    return f'<h2 id="h-errors">Errors</h2><ul class="errors">{"".join(items)}</ul>{more}'


def _ordered(view: AttemptView) -> list[tuple[TaskRecord, int]]:
    """The tasks depth first (children by id), with their depth; or, filtered, flat."""
    if view.show == "problems":
        return [(t, 0) for t in view.tasks if t.state in PROBLEM_STATES]
    if view.show == "active":
        return [(t, 0) for t in view.tasks if t.state in ACTIVE_STATES]
    by_id = {t.task_id: t for t in view.tasks if t.task_id is not None}
    children: dict[int | None, list[TaskRecord]] = {}
    roots = []
    for t in view.tasks:
        if t.parent_id is not None and t.parent_id in by_id:
            children.setdefault(t.parent_id, []).append(t)
        else:
            roots.append(t)
    out: list[tuple[TaskRecord, int]] = []
    stack = [(t, 0) for t in reversed(roots)]
    while stack:
        task, depth = stack.pop()
        out.append((task, depth))
        stack.extend((c, depth + 1) for c in reversed(children.get(task.task_id, [])))
    return out


def _tasks(view: AttemptView) -> str:
    r = view.record
    ordered = _ordered(view)
    shown = ordered[:view.rows]
    by_id = {t.task_id: t for t in view.tasks}
    now = time.time()
    # the timeline spans the attempt and every task (clocks of other hosts may be off)
    t0 = min([r.started_at] + [t.started_at for t in view.tasks if t.started_at is not None])
    t1 = max([r.finished_at or now] + [t.finished_at or 0 for t in view.tasks])
    span = max(t1 - t0, 0.001)
    rows = []
    for task, depth in shown:
        parent = by_id.get(task.parent_id) if task.parent_id is not None and view.show == "all" else None
        label = task.name[len(parent.name):] if parent is not None and task.name.startswith(parent.name) else task.name
        end = task.finished_at if task.finished_at is not None else (
            now if task.started_at is not None and task.state not in DONE_STATES else None)
        took = duration(end - task.started_at) if task.started_at is not None and end is not None else ""
        bar = ""
        if task.started_at is not None:
            left = max(0.0, (task.started_at - t0) / span * 100)
            width = max(0.4, ((end or task.started_at) - task.started_at) / span * 100)
            width = min(width, 100 - min(left, 99.6))
            bar = (f'<div class="bar s-{esc(task.state)}" style="margin-left:{left:.2f}%;width:{width:.2f}%"'
                   f' title="{esc(task.name)}: {esc(took or "0s")}"></div>')
        log = log_link(r.id, task.name) if task.name in view.logs else ""
        group = " group" if task.is_group else ""
        rows.append(
            f'<tr class="s-{esc(task.state)}{group}"><td class="name" style="--depth:{min(depth, 30)}">'
            f'<span title="{esc(task.name)}">{esc(label)}</span></td><td>{badge(task.state)}</td>'
            f'<td class="time">{when(task.started_at, view.zone) if task.started_at else ""}</td>'
            f'<td class="num">{took}</td><td class="gantt" aria-hidden="true">{bar}</td><td>{log}</td></tr>')
    choices = "".join(
        f'<option value="{v}"{" selected" if view.show == v else ""}>{label}</option>'
        for v, label in (("all", "all, as a tree"), ("problems", "failed or canceled"),
                         ("active", "running or waiting")))
    form = (f'<form class="filters" method="get" action="/attempts/{r.id}">'
            f'<label>Show <select name="show">{choices}</select></label>'
            '<button type="submit">Apply</button></form>')
    more = ""
    if len(ordered) > len(shown):
        step = min(len(ordered), view.rows + 1000)
        more = (f'<p class="more">Showing {len(shown):,} of {len(ordered):,} tasks. '
                f'<a href="{esc(url(f"/attempts/{r.id}", show=view.show, rows=step))}#tasks">Show more</a> · '
                f'<a href="{esc(url(f"/attempts/{r.id}", show=view.show, rows=len(ordered)))}#tasks">'
                f"Show all</a></p>")
    axis = (f'<div class="axis" aria-hidden="true"><span>{when(t0, view.zone)}</span>'
            f"<span>{duration(t1 - t0)}</span></div>")
    table = _table(["Task", "State", "Started", "Duration", "Timeline", "Log"], rows,
                   "No tasks (yet)." if view.show == "all" else "None.", "tasks")
    return f'<h2 id="h-tasks">Tasks</h2>{form}{axis if rows else ""}{table}{more}'


# -- logs --------------------------------------------------------------------------------------
def log_page(store: Store, attempt_id: int, task: str) -> Page:
    record = store.get_attempt(attempt_id)
    if record is None:
        return _missing(f"There is no attempt with id {attempt_id}.")
    found = next((t for t in store.tasks(attempt_id) if t.name == task), None)
    lines = store.task_log(attempt_id, task)
    if found is None and not lines:
        return _missing(f"Attempt {attempt_id} has no task {task!r}.")
    zone = Names(store).zone(record.workflow_id)
    done = record.status.done or (found is not None and found.state in DONE_STATES)
    shown = lines[-MAX_LOG_LINES:]
    cut = (f'<p class="notice">The first {len(lines) - len(shown):,} lines are left out: download the whole log.</p>'
           if len(shown) < len(lines) else "")
    state = badge(found.state) if found is not None else ""
    started = when(found.started_at, zone) if found is not None and found.started_at else ""
    body = (
        f'<h1>Log of <code>{esc(task)}</code></h1>'
        f'<p class="status-line"><span id="log-state">{state}</span> {started} · '
        f'<a href="/attempts/{attempt_id}">attempt #{attempt_id}</a> · '
        f'<a href="{esc(url(f"/attempts/{attempt_id}/log.txt", task=task))}" download>Download</a>'
        f' <span id="follow" class="muted" role="status">{"" if done else "following…"}</span></p>'
        + (f'<p class="error-text">{esc(_error_text(found.error))}</p>' if found is not None and found.error else "")
        + cut
        + '<pre id="log" class="log scroll" tabindex="0" aria-label="log lines">'
        + esc("".join(line + "\n" for line in shown)) + "</pre>")
    return Page(200, page(f"Log {task}", body, active="attempts", crumbs=[
        ("Attempts", "/attempts"), (f"attempt {attempt_id}", f"/attempts/{attempt_id}"), (task, None)],
        data={"page": "log", "attempt": str(attempt_id), "task": task, "offset": str(len(lines)),
              "live": "0" if done else "1"}))


def log_tail(store: Store, attempt_id: int, task: str, offset: int) -> dict[str, Any] | None:
    record = store.get_attempt(attempt_id)
    if record is None:
        return None
    found = next((t for t in store.tasks(attempt_id) if t.name == task), None)
    lines = store.task_log(attempt_id, task)
    done = record.status.done or (found is not None and found.state in DONE_STATES)
    return {"lines": lines[offset:] if offset <= len(lines) else [], "offset": len(lines), "done": done,
            "state": found.state if found is not None else None,
            "stateHtml": badge(found.state) if found is not None else ""}
