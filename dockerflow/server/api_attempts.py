"""Sessions, attempts (start, retry, kill), their tasks and logs: the API's routes over the
store and the ServerEngine.

    PUT  /api/attempts                      start or retry (resume failed | from +task);
                                            409 carries the existing attempt
    GET  /api/attempts[/{id}[/retries]]     newest first, paging backwards (last_id)
    POST /api/attempts/{id}/kill            409 when done or already killed
    GET  /api/attempts/{id}/tasks
    GET  /api/sessions[/{id}[/attempts]], /api/projects/{id}/sessions
    GET  /api/logs/{attempt}/files[/{name}] a task's log as one gzip "file", regenerated on
                                            each request (its size grows while it runs)
"""

from __future__ import annotations

import gzip
from typing import Annotated, Any

from fastapi import Body, FastAPI
from fastapi.responses import JSONResponse, Response

from dockerflow.server import rest
from dockerflow.server.engine import ServerEngine
from dockerflow.server.rest import INT64_MAX, ApiError, IdPath, OptionalInt64, parse_api_time
from dockerflow.store.base import AttemptExists, AttemptRecord, SessionRecord, Store, TaskRecord
from dockerflow.timeutil import parse_zone

MAX_PAGE = 100  # Digdag's api.max_sessions_page_size / max_attempts_page_size
AGENT = "dockerflow"


def add_attempt_routes(app: FastAPI, store: Store, engine: ServerEngine) -> None:
    names: dict[int, str] = {}

    def project_name(project_id: int) -> str:
        if project_id not in names:
            found = store.project(project_id) if project_id else None
            names[project_id] = found.name if found is not None else ""
        return names[project_id]

    def rest_attempt(record: AttemptRecord) -> rest.RestSessionAttempt:
        session = store.get_session(record.session_id)
        return rest.session_attempt(record, project_name(record.project_id),
                                    session.uuid if session is not None else "")

    def attempt_or_404(attempt_id: int) -> AttemptRecord:
        record = store.get_attempt(attempt_id)
        if record is None:
            raise ApiError(404, f"attempt id={attempt_id} not found")
        return record

    def page(page_size: int | None) -> int:
        size = MAX_PAGE if page_size is None else page_size
        if size > MAX_PAGE:
            raise ApiError(400, f"page_size {size} is larger than the maximum of {MAX_PAGE}")
        return max(1, size)

    def rest_session(record: SessionRecord) -> rest.RestSession:
        last = store.last_attempt(record.id)
        workflow_id = str(last.workflow_id) if last is not None and last.workflow_id else None
        return rest.RestSession(
            id=str(record.id), project=rest.IdAndName(id=str(record.project_id),
                                                      name=project_name(record.project_id)),
            workflow=rest.NameOptionalId(name=record.workflow, id=workflow_id),
            sessionUuid=record.uuid, sessionTime=record.session_time,
            lastAttempt=rest.last_attempt(last) if last is not None else None)

    # -- attempts ------------------------------------------------------------------------------
    @app.put("/api/attempts", response_model=rest.RestSessionAttempt,
             responses={409: {"model": rest.RestSessionAttempt}})
    def start(body: Annotated[dict[str, Any] | None, Body()] = None) -> Any:
        body = body or {}
        workflow_id = _id(body.get("workflowId"), "workflowId (the id of a workflow definition)")
        definition = store.workflow_definition(workflow_id) if workflow_id <= INT64_MAX else None
        if definition is None:
            raise ApiError(404, f"workflow id={workflow_id} not found")
        project = store.project(definition.project_id)
        if project is None or project.deleted_at is not None:
            raise ApiError(404, f"the project of workflow id={workflow_id} is deleted")
        raw_time = body.get("sessionTime")
        if not isinstance(raw_time, str) or not raw_time:
            raise ApiError(400, "sessionTime is required (an ISO-8601 time with Z or an offset)")
        session_time = parse_api_time(raw_time, parse_zone(definition.timezone))
        params = body.get("params")
        if params is None:
            params = {}  # a superset: curl users often leave it out
        if not isinstance(params, dict):
            raise ApiError(400, "params must be an object")
        retry_name = body.get("retryAttemptName")
        if retry_name is not None and (not isinstance(retry_name, str) or not retry_name):
            raise ApiError(400, "retryAttemptName must be a non-empty string")
        resume = body.get("resume")
        if resume is not None:
            resume = _check_resume(store, resume)
        try:
            attempt_id = engine.start(definition, project, session_time, params, retry_name, resume)
        except AttemptExists as e:
            existing = attempt_or_404(e.attempt_id)
            return JSONResponse(rest_attempt(existing).model_dump(), status_code=409)
        return rest_attempt(attempt_or_404(attempt_id))

    @app.get("/api/attempts", response_model=rest.RestSessionAttemptCollection)
    def attempts(project: str | None = None, workflow: str | None = None,
                 include_retried: str | None = None, last_id: OptionalInt64 = None,
                 page_size: OptionalInt64 = None) -> rest.RestSessionAttemptCollection:
        project_id = None
        if project:  # an empty project= is treated as absent (the Go client sends it)
            found = store.live_project(project)
            if found is None:
                raise ApiError(404, f"project {project!r} not found")
            project_id = found.id
        elif workflow:
            raise ApiError(400, "workflow= needs project=")
        records = store.attempts(project_id=project_id, workflow=workflow or None,
                                 include_retried=include_retried == "true", last_id=last_id,
                                 page_size=page(page_size))
        return rest.RestSessionAttemptCollection(attempts=[rest_attempt(r) for r in records])

    @app.get("/api/attempts/{attempt_id}", response_model=rest.RestSessionAttempt)
    def attempt(attempt_id: IdPath) -> rest.RestSessionAttempt:
        return rest_attempt(attempt_or_404(attempt_id))

    @app.get("/api/attempts/{attempt_id}/retries", response_model=rest.RestSessionAttemptCollection)
    def retries(attempt_id: IdPath) -> rest.RestSessionAttemptCollection:
        record = attempt_or_404(attempt_id)
        return rest.RestSessionAttemptCollection(
            attempts=[rest_attempt(r) for r in store.session_attempts(record.session_id)])

    @app.post("/api/attempts/{attempt_id}/kill", response_model=rest.RestSessionAttempt)
    def kill(attempt_id: IdPath, body: Annotated[Any, Body()] = None) -> rest.RestSessionAttempt:
        record = attempt_or_404(attempt_id)
        if record.status.done or record.cancel_requested:
            raise ApiError(409, "Session attempt already killed or finished")
        store.request_cancel(attempt_id)
        return rest_attempt(attempt_or_404(attempt_id))

    @app.get("/api/attempts/{attempt_id}/tasks", response_model=rest.RestTaskCollection)
    def tasks(attempt_id: IdPath) -> rest.RestTaskCollection:
        record = attempt_or_404(attempt_id)
        return rest.RestTaskCollection(tasks=_rest_tasks(store.tasks(attempt_id), record))

    # -- sessions ------------------------------------------------------------------------------
    @app.get("/api/sessions", response_model=rest.RestSessionCollection)
    def sessions(last_id: OptionalInt64 = None,
                 page_size: OptionalInt64 = None) -> rest.RestSessionCollection:
        records = store.sessions(last_id=last_id, page_size=page(page_size))
        return rest.RestSessionCollection(sessions=[rest_session(r) for r in records])

    @app.get("/api/sessions/{session_id}", response_model=rest.RestSession)
    def session(session_id: IdPath) -> rest.RestSession:
        record = store.get_session(session_id)
        if record is None:
            raise ApiError(404, f"session id={session_id} not found")
        return rest_session(record)

    @app.get("/api/sessions/{session_id}/attempts", response_model=rest.RestSessionAttemptCollection)
    def session_attempts(session_id: IdPath, last_id: OptionalInt64 = None,
                         page_size: OptionalInt64 = None) -> rest.RestSessionAttemptCollection:
        if store.get_session(session_id) is None:
            raise ApiError(404, f"session id={session_id} not found")
        records = store.attempts(session_id=session_id, last_id=last_id, page_size=page(page_size))
        return rest.RestSessionAttemptCollection(attempts=[rest_attempt(r) for r in records])

    @app.get("/api/projects/{project_id}/sessions", response_model=rest.RestSessionCollection)
    def project_sessions(project_id: IdPath, workflow: str | None = None, last_id: OptionalInt64 = None,
                         page_size: OptionalInt64 = None) -> rest.RestSessionCollection:
        found = store.project(project_id)
        if found is None or found.deleted_at is not None:
            raise ApiError(404, f"Project id={project_id} not found")
        records = store.sessions(project_id=project_id, workflow=workflow or None, last_id=last_id,
                                 page_size=page(page_size))
        return rest.RestSessionCollection(sessions=[rest_session(r) for r in records])

    # -- logs ----------------------------------------------------------------------------------
    def handles(record: AttemptRecord) -> list[rest.RestLogFileHandle]:
        started = {t.name: t.started_at for t in store.tasks(record.id)}
        out = []
        for name in store.log_tasks(record.id):
            since = started.get(name) or record.started_at
            data = _gzip(store.task_log(record.id, name))
            stamp = f"{int(since):08x}{int((since % 1) * 1e9):08x}"
            out.append(rest.RestLogFileHandle(
                fileName=f"{name}@{stamp}.{AGENT}.log.gz", fileSize=len(data), taskName=name,
                fileTime=rest.instant(since) or "", agentId=AGENT, direct=None))
        return sorted(out, key=lambda h: h.fileName)

    @app.get("/api/logs/{attempt_id}/files", response_model=rest.RestLogFileHandleCollection)
    def log_files(attempt_id: IdPath, task: str | None = None,
                  direct_download: bool | None = None) -> rest.RestLogFileHandleCollection:
        files = handles(attempt_or_404(attempt_id))
        if task:
            files = [f for f in files if f.fileName.startswith(task)]  # Digdag: a prefix of the name
        return rest.RestLogFileHandleCollection(files=files)

    @app.get("/api/logs/{attempt_id}/files/{file_name}", response_class=Response,
             responses={200: {"content": {"application/gzip": {}}}})
    def log_file(attempt_id: IdPath, file_name: str) -> Response:
        record = attempt_or_404(attempt_id)
        for handle in handles(record):
            if handle.fileName == file_name:
                return Response(_gzip(store.task_log(attempt_id, handle.taskName)),
                                media_type="application/gzip")
        raise ApiError(404, f"log file {file_name!r} of attempt {attempt_id} not found")


def _check_resume(store: Store, resume: Any) -> dict[str, Any]:
    if not isinstance(resume, dict):
        raise ApiError(400, 'resume must be {"mode": "failed" | "from", "attemptId": ...}')
    previous = _id(resume.get("attemptId"), "resume.attemptId")
    record = store.get_attempt(previous) if previous <= INT64_MAX else None
    if record is None:
        raise ApiError(404, f"attempt id={previous} not found")
    if resume.get("mode") == "failed" and record.status.value == "success":
        raise ApiError(400, "Resuming successfully completed attempts is not supported")
    return dict(resume)


def _id(value: Any, what: str) -> int:
    """An id in a request body: a digit string or a number (Digdag's clients send either)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
        raise ApiError(400, f"{what} is required, as a digit string or a number")
    return int(value)


def _gzip(lines: list[str]) -> bytes:
    text = "".join(line + "\n" for line in lines)
    return gzip.compress(text.encode("utf-8"), mtime=0)


def _rest_tasks(records: list[TaskRecord], attempt: AttemptRecord) -> list[rest.RestTask]:
    """The attempt's tasks by id, root first (ids are the scheduler's, unique in the attempt)."""
    out = []
    for r in sorted(records, key=lambda r: (r.task_id is None, r.task_id or 0, r.name)):
        result = r.result or {}
        out.append(rest.RestTask(
            id=str(r.task_id or 0), fullName=r.name,
            parentId=str(r.parent_id) if r.parent_id is not None else None,
            config=dict(r.config or {}), upstreams=[str(u) for u in r.upstreams or ()],
            isGroup=bool(r.is_group), state=r.state, cancelRequested=attempt.cancel_requested,
            exportParams=dict(result.get("export") or {}), storeParams=dict(result.get("store") or {}),
            stateParams={"retry_count": r.retry_count} if r.retry_count else {},
            updatedAt=rest.instant(r.finished_at or r.started_at or attempt.started_at) or "",
            retryAt=rest.instant(r.retry_at), startedAt=rest.instant(r.started_at),
            error=dict(r.error or {})))
    return out
