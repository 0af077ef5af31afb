"""The web UI of `dockerflow server`: server-rendered pages over the store, at `/`.

    /                               projects
    /projects/{id}                  its workflows, schedules, secret keys, attempts, revisions
    /workflows/{id}                 start form, schedule and next runs, task graph (SVG),
                                    the highlighted .dig, its sessions
    /sessions, /attempts            lists: ?status=&project=&workflow=, keyset paging ?last_id=
    /attempts/{id}                  summary and actions (kill, retry failed, retry from),
                                    params, errors, the task tree with a timeline, images;
                                    ?show=all|problems|active&rows=N
    /attempts/{id}/log?task=NAME    a task's log, followed while it runs; log.txt downloads it
    /ui/attempts/{id}/live          JSON: the attempt page's live sections (ui.js polls it
                                    while the attempt runs)
    /ui/attempts/{id}/log?task=&offset=   JSON: the log lines after `offset`
    /ui/static/{ui.css,ui.js}       the page's only CSS and script (no CDN, no build step)

Every page carries its main content in its HTML (one round trip). The actions use the REST API
(PUT /api/attempts, POST /api/attempts/{id}/kill, POST /api/schedules/{id}/enable|disable).
The server's AuthMiddleware covers these paths as it covers /api/.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from dockerflow.server.ui import pages
from dockerflow.server.ui.html import STATIC_FILES, int_param, not_found, static_file
from dockerflow.store.base import Store

__all__ = ["add_ui_routes"]


def _html(found: pages.Page) -> HTMLResponse:
    return HTMLResponse(found.html, status_code=found.status, headers={"Cache-Control": "no-store"})


def _id(text: str) -> int | None:
    return int_param(text, None, 0)


def add_ui_routes(app: FastAPI, store: Store) -> None:
    """The pages; their actions (start, kill, retry, enable) go through the API."""

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def projects(last_id: str | None = None) -> HTMLResponse:
        return _html(pages.projects_page(store, last_id))

    @app.get("/projects/{project_id}", response_class=HTMLResponse, include_in_schema=False)
    def project(project_id: str) -> HTMLResponse:
        number = _id(project_id)
        if number is None:
            return _html(pages.Page(404, not_found(f"There is no project with id {project_id!r}.")))
        return _html(pages.project_page(store, number))

    @app.get("/workflows/{workflow_id}", response_class=HTMLResponse, include_in_schema=False)
    def workflow(workflow_id: str) -> HTMLResponse:
        number = _id(workflow_id)
        if number is None:
            return _html(pages.Page(404, not_found(f"There is no workflow with id {workflow_id!r}.")))
        return _html(pages.workflow_page(store, number))

    @app.get("/sessions", response_class=HTMLResponse, include_in_schema=False)
    def sessions(request: Request) -> HTMLResponse:
        return _html(pages.list_page(store, "sessions", dict(request.query_params)))

    @app.get("/attempts", response_class=HTMLResponse, include_in_schema=False)
    def attempts(request: Request) -> HTMLResponse:
        return _html(pages.list_page(store, "attempts", dict(request.query_params)))

    @app.get("/attempts/{attempt_id}", response_class=HTMLResponse, include_in_schema=False)
    def attempt(attempt_id: str, show: str | None = None, rows: str | None = None) -> HTMLResponse:
        number = _id(attempt_id)
        view = pages.load_attempt(store, number, show, rows) if number is not None else None
        if view is None:
            return _html(pages.Page(404, not_found(f"There is no attempt with id {attempt_id!r}.")))
        return _html(pages.attempt_page(store, view))

    @app.get("/attempts/{attempt_id}/log", response_class=HTMLResponse, include_in_schema=False)
    def log(attempt_id: str, task: str | None = None) -> HTMLResponse:
        number = _id(attempt_id)
        if number is None or not task:
            return _html(pages.Page(404, not_found("Which log? /attempts/ID/log?task=+wf+task")))
        return _html(pages.log_page(store, number, task))

    @app.get("/attempts/{attempt_id}/log.txt", include_in_schema=False)
    def log_text(attempt_id: str, task: str | None = None) -> Response:
        number = _id(attempt_id)
        if number is None or not task or store.get_attempt(number) is None:
            return PlainTextResponse("not found\n", status_code=404)
        text = "".join(line + "\n" for line in store.task_log(number, task))
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in task.strip("+")) or "task"
        return PlainTextResponse(text, headers={
            "Content-Disposition": f'attachment; filename="attempt{number}_{safe}.log"'})

    @app.get("/ui/attempts/{attempt_id}/live", include_in_schema=False)
    def live(attempt_id: str, show: str | None = None, rows: str | None = None) -> JSONResponse:
        number = _id(attempt_id)
        view = pages.load_attempt(store, number, show, rows) if number is not None else None
        if view is None:
            return JSONResponse({"message": "attempt not found", "status": 404}, status_code=404)
        return JSONResponse({"done": view.record.status.done, "sections": pages.live_sections(store, view)},
                            headers={"Cache-Control": "no-store"})

    @app.get("/ui/attempts/{attempt_id}/log", include_in_schema=False)
    def log_tail(attempt_id: str, task: str | None = None, offset: str | None = None) -> JSONResponse:
        number = _id(attempt_id)
        found = pages.log_tail(store, number, task, int_param(offset, 0) or 0) \
            if number is not None and task else None
        if found is None:
            return JSONResponse({"message": "attempt not found", "status": 404}, status_code=404)
        return JSONResponse(found, headers={"Cache-Control": "no-store"})

    @app.get("/ui/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in STATIC_FILES:
            return PlainTextResponse("not found\n", status_code=404)
        return Response(static_file(name), media_type=STATIC_FILES[name],
                        headers={"Cache-Control": "public, max-age=31536000, immutable"})
