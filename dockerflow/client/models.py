"""The client's view of the REST API's JSON: typed pydantic models.

Attributes are snake_case; the API's camelCase keys are their aliases, and either name builds
a model (populate_by_name). Ids stay strings of digits, as the API writes them; instants
("...Z") and session times ("...+09:00") become aware datetimes. Keys a newer server adds are
kept (extra="allow"), and `.raw` is the JSON exactly as the server sent it (what the CLI's
--json prints).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, PrivateAttr
from pydantic.alias_generators import to_camel

M = TypeVar("M", bound="ApiModel")


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")
    _raw: dict[str, Any] | None = PrivateAttr(default=None)

    @classmethod
    def from_api(cls: type[M], data: Any) -> M:
        """The model of one JSON object of the API, remembering that object as `.raw`."""
        model = cls.model_validate(data)
        model._raw = dict(data)
        return model

    @property
    def raw(self) -> dict[str, Any]:
        """The API's JSON of this object (rebuilt from the fields when made in Python)."""
        if self._raw is not None:
            return self._raw
        return self.model_dump(mode="json", by_alias=True)


class IdAndName(ApiModel):
    id: str
    name: str


class NameOptionalId(ApiModel):
    name: str
    id: str | None = None


class Version(ApiModel):
    version: str  # the Digdag version whose API the server speaks
    server: str | None = None  # which server answers ("dockerflow 0.1.0")


class VersionCheck(ApiModel):
    server_version: str
    upgrade_recommended: bool
    api_compatible: bool


class Project(ApiModel):
    id: str
    name: str
    revision: str
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    archive_type: str
    archive_md5: str | None = None


class Revision(ApiModel):
    revision: str
    created_at: datetime
    archive_type: str
    archive_md5: str | None = None
    user_info: dict[str, Any] = {}


class Workflow(ApiModel):
    id: str
    name: str
    project: IdAndName
    revision: str
    timezone: str
    config: dict[str, Any] = {}


class SessionTime(ApiModel):
    """GET /api/workflows/{id}/truncated_session_time: a time in the workflow's zone."""

    project: IdAndName
    revision: str
    session_time: datetime
    timezone: str


class Attempt(ApiModel):
    id: str
    index: int
    project: IdAndName
    workflow: NameOptionalId
    session_id: str
    session_uuid: str
    session_time: datetime
    retry_attempt_name: str | None = None
    done: bool
    success: bool
    cancel_requested: bool
    params: dict[str, Any] = {}
    created_at: datetime
    finished_at: datetime | None = None
    status: str | None = None  # success | error | killed | running (not in Digdag 0.9)

    @property
    def state(self) -> str:
        """running, success, error or killed (from `status`, else from the flags)."""
        if self.status:
            return self.status
        if not self.done:
            return "running"
        if self.success:
            return "success"
        return "killed" if self.cancel_requested else "error"


class LastAttempt(ApiModel):
    id: str
    retry_attempt_name: str | None = None
    done: bool
    success: bool
    cancel_requested: bool
    params: dict[str, Any] = {}
    created_at: datetime
    finished_at: datetime | None = None


class Session(ApiModel):
    id: str
    project: IdAndName
    workflow: NameOptionalId
    session_uuid: str
    session_time: datetime
    last_attempt: LastAttempt | None = None


class Task(ApiModel):
    id: str
    full_name: str
    parent_id: str | None = None
    config: dict[str, Any] = {}
    upstreams: list[str] = []
    is_group: bool
    state: str
    cancel_requested: bool
    export_params: dict[str, Any] = {}
    store_params: dict[str, Any] = {}
    state_params: dict[str, Any] = {}
    updated_at: datetime
    retry_at: datetime | None = None
    started_at: datetime | None = None
    error: dict[str, Any] = {}


class LogFile(ApiModel):
    file_name: str
    file_size: int
    task_name: str
    file_time: datetime
    agent_id: str
    direct: str | None = None


class Schedule(ApiModel):
    """A workflow's schedule; `created_at`/`updated_at` come with the actions' answers only."""

    id: str
    project: IdAndName
    workflow: IdAndName
    next_run_time: datetime
    next_schedule_time: datetime
    disabled_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
