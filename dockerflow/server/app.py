"""`create_app(store, settings)`: Digdag's REST API over a Store (FastAPI).

    /api/version, /api/version/check          version.py's share: no store
    /api/projects...                          push (PUT, tar.gz), list, get, delete,
                                              revisions, workflows, archive download
    /api/workflows...                         definitions of the latest revisions, by id,
                                              truncated_session_time
    /api/openapi.json                         the schema of all of it

Errors are `{"message", "status"}` with Digdag's codes: 400 for bad input (a bad `.dig` in a
push names `file:line`), 404 for unknown ids and for path or query parameters that do not
parse (as JAX-RS answers), 409 for a reused revision name. A client's mistake never gets a
500. Handlers are plain functions (FastAPI runs them in its thread pool): the store is
thread-safe and every call is short.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dockerflow import __version__
from dockerflow.dig.schedule import next_slot, parse_schedule
from dockerflow.errors import DigError, UserInputError
from dockerflow.secrets import SecretCipher
from dockerflow.server import rest
from dockerflow.server.api_attempts import add_attempt_routes
from dockerflow.server.api_schedules import add_schedule_routes
from dockerflow.server.api_secrets import add_secret_routes
from dockerflow.server.auth import Auth, AuthMiddleware
from dockerflow.server.engine import ServerEngine
from dockerflow.server.push import workflows_of_archive
from dockerflow.server.rest import (
    INT64_MAX,
    ApiError,
    IdPath,
    Int64,
    OptionalInt64,
    live_project,
    offset_time,
    parse_api_time,
)
from dockerflow.server.scheduler import restart_names, schedule_specs
from dockerflow.server.ui import add_ui_routes
from dockerflow.store.base import ProjectRecord, RevisionExists, Store, WorkflowRecord
from dockerflow.timeutil import parse_zone

log = logging.getLogger("dockerflow.server")
GZIP_TYPES = ("application/gzip", "application/x-gzip", "application/octet-stream")


@dataclass
class ServerSettings:
    max_archive_bytes: int = 2 * 1024 * 1024  # Digdag's api.max_archive_total_size_limit
    auth: Auth | None = None  # None: no authentication (loopback, as Digdag)
    cipher: SecretCipher | None = None  # None: no project secrets API


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message, "status": status}, status_code=status)


def create_app(store: Store, settings: ServerSettings | None = None,
               engine: ServerEngine | None = None) -> FastAPI:
    """`engine`: runs the attempts PUT /api/attempts starts; without it the attempt routes
    are left out (an API over projects and definitions only)."""
    settings = settings or ServerSettings()
    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": rest.RestError, "description": what} for code, what in (
            (400, "bad input"), (401, "authentication failed"),
            (404, "unknown id or name, or a parameter that does not convert"),
            (409, "conflict"), (415, "wrong Content-Type"))}
    app = FastAPI(title="dockerflow", version=__version__, openapi_url="/api/openapi.json",
                  docs_url=None, redoc_url=None, responses=errors)
    app.state.store = store
    app.state.settings = settings
    if settings.auth is not None:
        app.add_middleware(AuthMiddleware, auth=settings.auth)
    _handlers(app)
    _version_routes(app)
    _project_routes(app, store, settings)
    _workflow_routes(app, store)
    if engine is not None:
        add_attempt_routes(app, store, engine)
        add_schedule_routes(app, store, engine)
    if settings.cipher is not None:
        add_secret_routes(app, store, settings.cipher)
    add_ui_routes(app, store)
    _refuse_cross_site_writes(app)
    return app


def _refuse_cross_site_writes(app: FastAPI) -> None:
    """A browser page of another site could make a logged-in browser (basic auth) post to the
    API: a write whose Origin is not this server's is refused (403). Scripts and clients send
    no Origin; the web UI's own requests carry this server's."""
    @app.middleware("http")
    async def same_origin(request: Request, call_next: Any) -> Any:
        origin = request.headers.get("origin")
        if request.method not in ("GET", "HEAD", "OPTIONS") and origin is not None:
            host = request.headers.get("host", "")
            if origin == "null" or origin.split("://", 1)[-1].rstrip("/") != host:
                return _error(403, f"a write from another site ({origin}) is refused: the API"
                                   " takes writes from its own pages and from clients that send"
                                   " no Origin")
        return await call_next(request)


# -- errors ------------------------------------------------------------------------------------
def _handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        where = errors[0].get("loc", ("body",)) if errors else ("body",)
        what = " ".join(str(p) for p in where[1:]) or str(where[0])
        detail = errors[0].get("msg", "invalid") if errors else "invalid"
        if where and where[0] in ("path", "query"):  # JAX-RS: a param that doesn't convert
            return _error(404, f"invalid {where[0]} parameter {what}: {detail}")
        return _error(400, f"invalid request body: {what}: {detail}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and message == "Not Found":
            message = "Resource not found"
        return _error(exc.status_code, message)

    @app.exception_handler(UserInputError)
    async def user_error(_: Request, exc: UserInputError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(RevisionExists)
    async def conflict(_: Request, exc: RevisionExists) -> JSONResponse:
        return _error(409, str(exc))

    @app.exception_handler(Exception)
    async def bug(_: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error")
        return _error(500, f"internal error: {exc!r}")


# -- version -----------------------------------------------------------------------------------
def _version_routes(app: FastAPI) -> None:
    @app.get("/api/version", response_model=rest.RestVersion)
    def version() -> rest.RestVersion:
        return rest.RestVersion(version=rest.API_VERSION, server=f"dockerflow {__version__}")

    @app.get("/api/version/check", response_model=rest.RestVersionCheckResult)
    def version_check(client: str | None = None) -> rest.RestVersionCheckResult:
        if not client:
            raise ApiError(400, "client= is required (the client's Digdag version)")
        if not rest.VERSION_RE.match(client):
            raise ApiError(400, f"Invalid client version: {client!r}")
        return rest.RestVersionCheckResult(serverVersion=rest.API_VERSION,
                                           upgradeRecommended=False, apiCompatible=True)


# -- projects ----------------------------------------------------------------------------------
def _rest_project(store: Store, record: ProjectRecord) -> rest.RestProject:
    return rest.project(record, store.revision(record.id))


def _revision_id(store: Store, project: ProjectRecord, name: str | None) -> tuple[int, str]:
    found = store.revision(project.id, name or None)
    if found is None:
        what = f"revision {name!r}" if name else "a revision"
        raise ApiError(404, f"Project {project.name!r} has no {what}")
    return found.id, found.name


def _project_routes(app: FastAPI, store: Store, settings: ServerSettings) -> None:
    @app.get("/api/projects", response_model=rest.RestProjectCollection)
    def projects(name: str | None = None, last_id: Int64 = 0, count: Annotated[int, Query(ge=1, le=INT64_MAX)] = 100,
                 name_pattern: str | None = None) -> rest.RestProjectCollection:
        if name:
            found = store.live_project(name)
            records = [found] if found is not None else []
        else:
            records = store.projects(last_id=last_id, count=count, name_pattern=name_pattern or None)
        return rest.RestProjectCollection(projects=[_rest_project(store, r) for r in records])

    @app.get("/api/project", response_model=rest.RestProject)
    def project_by_name(name: str | None = None) -> rest.RestProject:
        if not name:
            raise ApiError(400, "name= is required")
        found = store.live_project(name)
        if found is None:
            raise ApiError(404, f"Project {name!r} not found")
        return _rest_project(store, found)

    @app.get("/api/projects/{project_id}", response_model=rest.RestProject)
    def project(project_id: IdPath) -> rest.RestProject:
        return _rest_project(store, live_project(store, project_id))

    @app.put("/api/projects", response_model=rest.RestProject)
    async def push(request: Request, project: str | None = None, revision: str | None = None,
                   schedule_from: str | None = None,
                   clear_schedule: Annotated[list[str] | None, Query()] = None,
                   clear_schedule_all: bool = False) -> rest.RestProject:
        if not project:
            raise ApiError(400, "project= is required (the project's name)")
        if not revision:
            raise ApiError(400, "revision= is required (a name for this revision)")
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in GZIP_TYPES:
            raise ApiError(415, f"the body must be a tar.gz archive (Content-Type: application/gzip),"
                                f" got {kind or 'none'}")
        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            raise ApiError(400, "Content-Length is required (chunked uploads are not accepted)")
        if int(length) > settings.max_archive_bytes:
            raise ApiError(400, f"the archive is {int(length):,} bytes, more than the limit of"
                                f" {settings.max_archive_bytes:,}")
        data = await request.body()
        if len(data) != int(length):
            raise ApiError(400, f"the body is {len(data):,} bytes, Content-Length says {length}")
        from_time = parse_api_time(schedule_from, timezone.utc) if schedule_from else \
            datetime.now(timezone.utc)
        return _store_push(store, settings, project, revision, data, from_time,
                           set(clear_schedule or ()), clear_schedule_all)

    @app.delete("/api/projects/{project_id}", response_model=rest.RestProject)
    def delete(project_id: IdPath) -> rest.RestProject:
        live_project(store, project_id)
        deleted = store.delete_project(project_id)
        assert deleted is not None
        return _rest_project(store, deleted)

    @app.get("/api/projects/{project_id}/revisions", response_model=rest.RestRevisionCollection)
    def revisions(project_id: IdPath, name: str | None = None,
                  last_id: OptionalInt64 = None) -> rest.RestRevisionCollection:
        live_project(store, project_id)
        return rest.RestRevisionCollection(
            revisions=[rest.revision(r) for r in store.revisions(project_id, name or None)])

    @app.get("/api/projects/{project_id}/workflows",
             response_model=rest.RestWorkflowDefinitionCollection)
    def project_workflows(project_id: IdPath, revision: str | None = None,
                          name: str | None = None) -> rest.RestWorkflowDefinitionCollection:
        found = live_project(store, project_id)
        revision_id, _ = _revision_id(store, found, revision)
        records = store.workflows_of(revision_id, name or None)
        return rest.RestWorkflowDefinitionCollection(
            workflows=[rest.workflow(r, found.name) for r in records])

    def one_workflow(project_id: int, name: str, revision: str | None) -> rest.RestWorkflowDefinition:
        found = live_project(store, project_id)
        revision_id, revision_name = _revision_id(store, found, revision)
        records = store.workflows_of(revision_id, name)
        if not records:
            raise ApiError(404, f"Workflow {name!r} not found in revision {revision_name!r}"
                                f" of project {found.name!r}")
        return rest.workflow(records[0], found.name)

    @app.get("/api/projects/{project_id}/workflows/{name}",
             response_model=rest.RestWorkflowDefinition)
    def project_workflow(project_id: IdPath, name: str,
                         revision: str | None = None) -> rest.RestWorkflowDefinition:
        return one_workflow(project_id, name, revision)

    @app.get("/api/projects/{project_id}/workflow", response_model=rest.RestWorkflowDefinition)
    def project_workflow_by_query(project_id: IdPath, name: str | None = None,
                                  revision: str | None = None) -> rest.RestWorkflowDefinition:
        if not name:
            raise ApiError(400, "name= is required")
        return one_workflow(project_id, name, revision)

    @app.get("/api/projects/{project_id}/archive", response_class=Response,
             responses={200: {"content": {"application/gzip": {}}}})
    def archive(project_id: IdPath, revision: str | None = None,
                direct_download: bool | None = None) -> Response:
        found = live_project(store, project_id)
        record = store.revision(project_id, revision or None)
        if record is None:
            raise ApiError(404, f"Project {found.name!r} has no revision {revision!r}")
        data = store.get_archive(record.archive_digest)
        if data is None:
            raise ApiError(404, f"the archive of revision {record.name!r} is missing")
        return Response(data, media_type="application/gzip", headers={
            "Content-Disposition": f'attachment; filename="{found.name}_{record.name}.tar.gz"'})


def _store_push(store: Store, settings: ServerSettings, project: str, revision: str,
                data: bytes, from_time: datetime, clear: set[str], clear_all: bool) -> rest.RestProject:
    """A new revision, and the project's schedules as its workflows' `schedule:` say: a
    schedule that is new, changed or cleared starts at its first session from `from_time`."""
    try:
        workflows = workflows_of_archive(data, settings.max_archive_bytes)
    except DigError as e:
        raise ApiError(400, f"bad workflow in the project: {e}") from None
    specs = schedule_specs(workflows, from_time)
    found, _ = store.put_revision(project, revision, data, workflows, schedules=specs,
                                  restart_schedules=restart_names(clear, clear_all, workflows))
    return _rest_project(store, found)


# -- workflows ---------------------------------------------------------------------------------
def _definition(store: Store, workflow_id: int) -> tuple[WorkflowRecord, ProjectRecord]:
    record = store.workflow_definition(workflow_id)
    project = store.project(record.project_id) if record is not None else None
    if record is None or project is None:
        raise ApiError(404, f"Workflow id={workflow_id} not found")
    return record, project


def _workflow_routes(app: FastAPI, store: Store) -> None:
    @app.get("/api/workflows", response_model=rest.RestWorkflowDefinitionCollection)
    def workflows(last_id: Int64 = 0, count: Annotated[int, Query(ge=1, le=INT64_MAX)] = 100, order: str = "asc",
                  name_pattern: str | None = None,
                  search_project_name: bool = False) -> rest.RestWorkflowDefinitionCollection:
        if order not in ("asc", "desc"):
            raise ApiError(400, f"order must be asc or desc, got {order!r}")
        records = store.latest_workflows(last_id=last_id, count=count, descending=order == "desc",
                                         name_pattern=name_pattern or None,
                                         search_project_name=search_project_name)
        names = _project_names(store, {r.project_id for r in records})
        return rest.RestWorkflowDefinitionCollection(
            workflows=[rest.workflow(r, names[r.project_id]) for r in records])

    @app.get("/api/workflows/{workflow_id}", response_model=rest.RestWorkflowDefinition)
    def workflow(workflow_id: IdPath) -> rest.RestWorkflowDefinition:
        record, project = _definition(store, workflow_id)
        return rest.workflow(record, project.name)

    @app.get("/api/workflow", response_model=rest.RestWorkflowDefinition)
    def workflow_by_name(project: str | None = None, name: str | None = None,
                         revision: str | None = None) -> rest.RestWorkflowDefinition:
        if not project or not name:
            raise ApiError(400, "project= and name= are required")
        found = store.live_project(project)
        if found is None:
            raise ApiError(404, f"Project {project!r} not found")
        revision_id, revision_name = _revision_id(store, found, revision)
        records = store.workflows_of(revision_id, name)
        if not records:
            raise ApiError(404, f"Workflow {name!r} not found in revision {revision_name!r}")
        return rest.workflow(records[0], found.name)

    @app.get("/api/workflows/{workflow_id}/truncated_session_time",
             response_model=rest.RestWorkflowSessionTime)
    def truncated_session_time(workflow_id: IdPath, session_time: str | None = None,
                               mode: str | None = None) -> rest.RestWorkflowSessionTime:
        record, project = _definition(store, workflow_id)
        if not session_time:
            raise ApiError(400, "session_time= is required")
        if mode not in (None, "hour", "day", "schedule", "next_schedule"):
            raise ApiError(404, f"unknown mode {mode!r}: hour, day, schedule or next_schedule")
        zone = parse_zone(record.timezone)
        when = parse_api_time(session_time, zone, local_ok=True).astimezone(zone)
        when = when.replace(microsecond=0)
        if mode == "hour":
            when = when.replace(minute=0, second=0)
        elif mode == "day":
            when = when.replace(hour=0, minute=0, second=0)
        elif mode in ("schedule", "next_schedule"):
            raw = record.config.get("schedule")
            if not isinstance(raw, dict):
                raise ApiError(400, f"workflow {record.name!r} has no schedule: mode={mode} needs one")
            schedule = parse_schedule(raw, lambda m: DigError(m))
            if mode == "schedule":  # the first session whose run time (session + delay) is >= when
                when = next_slot(schedule, when - timedelta(seconds=schedule.delay + 1))
            else:  # the session after `when`
                when = next_slot(schedule, when)
            when = when.astimezone(zone)
        return rest.RestWorkflowSessionTime(
            project=rest.IdAndName(id=str(project.id), name=project.name), revision=record.revision,
            sessionTime=offset_time(when), timezone=record.timezone)


def _project_names(store: Store, ids: set[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for pid in ids:
        found = store.project(pid)
        out[pid] = found.name if found is not None else ""
    return out
