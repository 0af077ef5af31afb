"""The shapes of Digdag's REST API: response models and the formats its clients parse.

    ids            JSON strings of decimal digits ("27")
    instants       "2017-06-24T06:45:26Z": UTC, no fraction (instant())
    session times  "2017-06-24T00:00:00+09:00": in the workflow's zone, offset always
                   ±hh:mm, never Z (offset_time())
    optionals      written as null, never left out
    lists          wrapped: {"projects": [...]}

Field names are the JSON keys (camelCase), so the models serialise as they are written.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BaseModel

from dockerflow.store.base import (
    AttemptRecord,
    AttemptStatus,
    ProjectRecord,
    RevisionRecord,
    Store,
    WorkflowRecord,
)

INT64_MAX = 2**63 - 1
# Ids and paging numbers are int64 (Digdag's): larger ones are a 404 like any path or query
# parameter that does not convert, never a database error.
IdPath = Annotated[int, Path(ge=0, le=INT64_MAX)]
Int64 = Annotated[int, Query(ge=-INT64_MAX, le=INT64_MAX)]
OptionalInt64 = Annotated[int | None, Query(ge=-INT64_MAX, le=INT64_MAX)]

API_VERSION = "0.10.5"  # the Digdag version whose API this server speaks
VERSION_RE = re.compile(r"^\d+(\.\d+){1,3}([-+][0-9A-Za-z.\-]+)?$")


def instant(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(int(t), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_instant() -> str:
    return instant(time.time()) or ""


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


def live_project(store: Store, project_id: int) -> ProjectRecord:
    """The project, or a 404 when it is unknown or deleted."""
    record = store.project(project_id)
    if record is None:
        raise ApiError(404, f"Project id={project_id} not found")
    if record.deleted_at is not None:
        raise ApiError(404, f"Project id={project_id} is already deleted at"
                            f" {instant(record.deleted_at)}")
    return record


def offset_time(t: datetime) -> str:
    """`2017-06-24T00:00:00+09:00`: no fraction, ±hh:mm (UTC is +00:00, never Z)."""
    return t.replace(microsecond=0).isoformat()


def parse_api_time(text: str, zone: Any, local_ok: bool = False) -> datetime:
    """An ISO-8601 time with `Z` or an offset (fractions allowed); with `local_ok`, a local
    `yyyy-MM-ddTHH:mm[:ss[.f]]` read in `zone` too. Anything else is a 400."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(400, f"invalid time {text!r}: use ISO-8601 such as"
                            " 2024-05-01T00:00:00Z or 2024-05-01T09:00:00+09:00") from None
    if parsed.tzinfo is None:
        if not local_ok:
            raise ApiError(400, f"invalid time {text!r}: it needs Z or an offset (+09:00)")
        parsed = parsed.replace(tzinfo=zone)
    return parsed


# -- models ------------------------------------------------------------------------------------
class IdAndName(BaseModel):
    id: str
    name: str


class RestProject(BaseModel):
    id: str
    name: str
    revision: str
    createdAt: str
    updatedAt: str
    deletedAt: str | None
    archiveType: str
    archiveMd5: str | None


class RestProjectCollection(BaseModel):
    projects: list[RestProject]


class RestRevision(BaseModel):
    revision: str
    createdAt: str
    archiveType: str
    archiveMd5: str | None
    userInfo: dict[str, Any]


class RestRevisionCollection(BaseModel):
    revisions: list[RestRevision]


class RestWorkflowDefinition(BaseModel):
    id: str
    name: str
    project: IdAndName
    revision: str
    timezone: str
    config: dict[str, Any]


class RestWorkflowDefinitionCollection(BaseModel):
    workflows: list[RestWorkflowDefinition]


class RestWorkflowSessionTime(BaseModel):
    project: IdAndName
    revision: str
    sessionTime: str
    timezone: str


class RestVersion(BaseModel):
    version: str
    server: str  # ours: which server answers ("dockerflow 0.1.0")


class RestVersionCheckResult(BaseModel):
    serverVersion: str
    upgradeRecommended: bool
    apiCompatible: bool


class RestSecretMetadata(BaseModel):
    key: str


class RestSecretList(BaseModel):
    secrets: list[RestSecretMetadata]


class RestSecret(BaseModel):
    key: str
    project: IdAndName


class RestSetSecretRequest(BaseModel):
    value: str


class RestSchedule(BaseModel):
    id: str
    project: IdAndName
    workflow: IdAndName
    nextRunTime: str
    nextScheduleTime: str
    disabledAt: str | None


class RestScheduleSummary(RestSchedule):
    createdAt: str
    updatedAt: str


class RestScheduleCollection(BaseModel):
    schedules: list[RestSchedule]


class RestScheduleAttemptCollection(BaseModel):
    id: str
    project: IdAndName
    workflow: IdAndName
    attempts: list[RestSessionAttempt]


class RestError(BaseModel):
    message: str
    status: int


# -- builders ----------------------------------------------------------------------------------
def project(record: ProjectRecord, latest: RevisionRecord | None) -> RestProject:
    return RestProject(
        id=str(record.id), name=record.name, revision=latest.name if latest else "",
        createdAt=instant(record.created_at) or "",
        updatedAt=instant(latest.created_at if latest else record.created_at) or "",
        deletedAt=instant(record.deleted_at), archiveType="db",
        archiveMd5=latest.archive_md5 if latest else None)


def revision(record: RevisionRecord) -> RestRevision:
    return RestRevision(revision=record.name, createdAt=instant(record.created_at) or "",
                        archiveType="db", archiveMd5=record.archive_md5,
                        userInfo=dict(record.user_info))


def workflow(record: WorkflowRecord, project_name: str) -> RestWorkflowDefinition:
    return RestWorkflowDefinition(id=str(record.id), name=record.name,
                                  project=IdAndName(id=str(record.project_id), name=project_name),
                                  revision=record.revision, timezone=record.timezone,
                                  config=dict(record.config))


class NameOptionalId(BaseModel):
    name: str
    id: str | None


class RestSessionAttempt(BaseModel):
    id: str
    index: int
    project: IdAndName
    workflow: NameOptionalId
    sessionId: str
    sessionUuid: str
    sessionTime: str
    retryAttemptName: str | None
    done: bool
    success: bool
    cancelRequested: bool
    params: dict[str, Any]
    createdAt: str
    finishedAt: str | None
    status: str  # success | error | killed | running


class RestSessionAttemptCollection(BaseModel):
    attempts: list[RestSessionAttempt]


class RestSessionLastAttempt(BaseModel):
    id: str
    retryAttemptName: str | None
    done: bool
    success: bool
    cancelRequested: bool
    params: dict[str, Any]
    createdAt: str
    finishedAt: str | None


class RestSession(BaseModel):
    id: str
    project: IdAndName
    workflow: NameOptionalId
    sessionUuid: str
    sessionTime: str
    lastAttempt: RestSessionLastAttempt | None


class RestSessionCollection(BaseModel):
    sessions: list[RestSession]


class RestTask(BaseModel):
    id: str
    fullName: str
    parentId: str | None
    config: dict[str, Any]
    upstreams: list[str]
    isGroup: bool
    state: str
    cancelRequested: bool
    exportParams: dict[str, Any]
    storeParams: dict[str, Any]
    stateParams: dict[str, Any]
    updatedAt: str
    retryAt: str | None
    startedAt: str | None
    error: dict[str, Any]


class RestTaskCollection(BaseModel):
    tasks: list[RestTask]


class RestLogFileHandle(BaseModel):
    fileName: str
    fileSize: int
    taskName: str
    fileTime: str
    agentId: str
    direct: str | None


class RestLogFileHandleCollection(BaseModel):
    files: list[RestLogFileHandle]


def attempt_status(record: AttemptRecord) -> str:
    if record.status is AttemptStatus.RUNNING:
        return "running"
    if record.status is AttemptStatus.SUCCESS:
        return "success"
    if record.status is AttemptStatus.KILLED or record.cancel_requested:
        return "killed"
    return "error"


def session_attempt(record: AttemptRecord, project_name: str, session_uuid: str) -> RestSessionAttempt:
    done = record.status.done
    return RestSessionAttempt(
        id=str(record.id), index=record.index,
        project=IdAndName(id=str(record.project_id), name=project_name),
        workflow=NameOptionalId(name=record.workflow,
                                id=str(record.workflow_id) if record.workflow_id is not None else None),
        sessionId=str(record.session_id), sessionUuid=session_uuid, sessionTime=record.session_time,
        retryAttemptName=record.retry_attempt_name, done=done,
        success=record.status is AttemptStatus.SUCCESS, cancelRequested=record.cancel_requested,
        params=dict(record.params), createdAt=instant(record.started_at) or "",
        finishedAt=instant(record.finished_at), status=attempt_status(record))


def last_attempt(record: AttemptRecord) -> RestSessionLastAttempt:
    full = session_attempt(record, "", "")
    return RestSessionLastAttempt(**full.model_dump(include=set(RestSessionLastAttempt.model_fields)))


RestScheduleAttemptCollection.model_rebuild()  # its attempts are defined below it
