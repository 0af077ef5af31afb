"""`Client`: Digdag's REST API from Python, over httpx (digdag-py's method names, typed
results).

    Client(endpoint, headers=, basic_auth=, token=, timeout=, transport=)
      projects       get_projects, get_project, get_project_by_name, get_project_revisions,
                     upload_project (a tar.gz), push_project (a folder, packed as `digdag
                     push` does), download_project, delete_project
      workflows      get_workflows, get_workflow, get_project_workflows,
                     get_project_workflow_by_name, get_workflow_by_name,
                     truncated_session_time
      attempts       start_attempt (a 409 raises AttemptConflict with the existing attempt),
                     retry (Digdag's `retry`: same session, a new retry name, resume),
                     kill, wait, get_attempts / iter_attempts, get_attempt,
                     get_attempt_retries, get_tasks
      sessions       get_sessions / iter_sessions, get_project_sessions, get_session,
                     get_session_attempts
      logs           get_log_files, get_log (the text of one file, gunzipped)
      version        version, version_check

Errors: an answer other than 2xx raises ApiError (NotFound, Conflict, BadRequest,
Unauthorized by status) with the server's message; a server that cannot be reached raises
ServerUnreachable. datetime arguments must be aware (a naive one is a ValueError) and are
sent as UTC instants, to the second ("2024-05-01T00:00:00Z"); a str is sent as it is.
"""

from __future__ import annotations

import gzip
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx

from dockerflow.client.models import (
    ApiModel,
    Attempt,
    LogFile,
    Project,
    Revision,
    Schedule,
    Session,
    SessionTime,
    Task,
    Version,
    VersionCheck,
    Workflow,
)

DEFAULT_ENDPOINT = "http://127.0.0.1:65432"
MAX_POLL = 5.0  # wait(): the longest pause between two polls
M = TypeVar("M", bound=ApiModel)
P = TypeVar("P", Attempt, Session)


# -- errors ------------------------------------------------------------------------------------
class ClientError(Exception):
    """Root of the client's errors."""


class ServerUnreachable(ClientError):
    """No server answers at the endpoint (connection refused, unknown host, timeout)."""

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        super().__init__(f"no dockerflow server answers at {endpoint}: {reason}")


class ApiError(ClientError):
    """The server answered with an error: its status and `message`."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(f"{message} (HTTP {status})")


class BadRequest(ApiError):
    """400: the request was refused (a bad parameter, a bad workflow in a push...)."""


class Unauthorized(ApiError):
    """401 or 403: missing or refused credentials."""


class NotFound(ApiError):
    """404: no such project, workflow, session, attempt or log file."""


class Conflict(ApiError):
    """409: a revision name already pushed, an attempt already killed or finished..."""


class AttemptConflict(Conflict):
    """409 of start_attempt: that session (and retry name) has an attempt: `.attempt`."""

    def __init__(self, status: int, message: str, attempt: Attempt) -> None:
        super().__init__(status, message)
        self.attempt = attempt


_BY_STATUS: dict[int, type[ApiError]] = {400: BadRequest, 401: Unauthorized, 403: Unauthorized,
                                         404: NotFound, 409: Conflict}


def api_time(value: datetime | str) -> str:
    """A datetime as the API's instant ("...Z", to the second); a str is left as it is."""
    if isinstance(value, str):
        return value
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime or a str, got {type(value).__name__}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"the naive datetime {value.isoformat()} has no time zone: give it one"
                         " (datetime.now(timezone.utc), .replace(tzinfo=...)) so that the"
                         " instant it means is clear")
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _base_url(endpoint: str) -> str:
    base = endpoint.strip().rstrip("/")
    if "://" not in base:
        base = "http://" + base
    if base.endswith("/api"):
        base = base[: -len("/api")]
    return base


class Client:
    def __init__(self, endpoint: str = DEFAULT_ENDPOINT, *, headers: Mapping[str, str] | None = None,
                 basic_auth: tuple[str, str] | None = None, token: str | None = None,
                 timeout: float = 30.0, transport: httpx.BaseTransport | None = None) -> None:
        self.endpoint = _base_url(endpoint)
        all_headers = {"Accept": "application/json", **(headers or {})}
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.endpoint + "/api/", headers=all_headers,
                                  auth=httpx.BasicAuth(*basic_auth) if basic_auth else None,
                                  timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------------------------
    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None, content: bytes | None = None,
                headers: Mapping[str, str] | None = None) -> httpx.Response:
        """One call of the API (`path` under /api/); an error answer raises ApiError."""
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, path.lstrip("/"), params=query, json=json,
                                          content=content, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            raise ServerUnreachable(self.endpoint, str(e) or type(e).__name__) from None
        except httpx.TransportError as e:
            raise ServerUnreachable(self.endpoint, f"{type(e).__name__}: {e}") from None
        if response.is_success:
            return response
        status, message = response.status_code, _message(response)
        if status == 409 and method == "PUT" and path.strip("/") == "attempts":
            try:
                existing = Attempt.from_api(response.json())
            except ValueError:
                pass
            else:
                raise AttemptConflict(status, f"session attempt id={existing.id} already exists"
                                      f" (session time {existing.session_time.isoformat()},"
                                      f" retry name {existing.retry_attempt_name!r})", existing)
        raise _BY_STATUS.get(status, ApiError)(status, message)

    def get_json(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params).json()

    def _one(self, model: type[M], path: str, **params: Any) -> M:
        return model.from_api(self.get_json(path, **params))

    def _many(self, model: type[M], key: str, path: str, **params: Any) -> list[M]:
        return [model.from_api(item) for item in self.get_json(path, **params)[key]]

    # -- version -------------------------------------------------------------------------------
    def version(self) -> Version:
        return self._one(Version, "version")

    def version_check(self, client_version: str) -> VersionCheck:
        return self._one(VersionCheck, "version/check", client=client_version)

    # -- projects ------------------------------------------------------------------------------
    def get_projects(self, name: str | None = None, *, last_id: str | int | None = None,
                     count: int | None = None, name_pattern: str | None = None) -> list[Project]:
        return self._many(Project, "projects", "projects", name=name, last_id=last_id, count=count,
                          name_pattern=name_pattern)

    def get_project(self, project_id: str | int) -> Project:
        return self._one(Project, f"projects/{_seg(project_id)}")

    def get_project_by_name(self, name: str) -> Project:
        return self._one(Project, "project", name=name)

    def get_project_revisions(self, project_id: str | int, name: str | None = None) -> list[Revision]:
        return self._many(Revision, "revisions", f"projects/{_seg(project_id)}/revisions", name=name)

    def upload_project(self, name: str, archive_bytes: bytes, revision: str | None = None, *,
                       schedule_from: datetime | str | None = None) -> Project:
        """PUT a tar.gz as a new revision of project `name` (default revision: a uuid4);
        `schedule_from`: new or changed schedules start from then (default: now)."""
        params = {"project": name, "revision": revision or str(uuid.uuid4()),
                  "schedule_from": api_time(schedule_from) if schedule_from is not None else None}
        response = self.request("PUT", "projects", params=params,
                                content=archive_bytes, headers={"Content-Type": "application/gzip"})
        return Project.from_api(response.json())

    def push_project(self, name: str, folder: str | Path, revision: str | None = None, *,
                     schedule_from: datetime | str | None = None) -> Project:
        """Pack `folder` as `digdag push` does (dot-files and .digdagignore left out), upload it."""
        from dockerflow.archive import pack_project

        return self.upload_project(name, pack_project(Path(folder)), revision,
                                   schedule_from=schedule_from)

    def download_project(self, project_id: str | int, revision: str | None = None) -> bytes:
        """The tar.gz of a revision (default: the latest)."""
        return self.request("GET", f"projects/{_seg(project_id)}/archive",
                            params={"revision": revision}).content

    def delete_project(self, project_id: str | int) -> Project:
        return Project.from_api(self.request("DELETE", f"projects/{_seg(project_id)}").json())

    # -- project secrets (values go in, never come back) ----------------------------------------
    def get_secrets(self, project_id: str | int) -> list[str]:
        """The keys of the project's secrets."""
        data = self.get_json(f"projects/{_seg(project_id)}/secrets")
        return [str(item["key"]) for item in data["secrets"]]

    def set_secret(self, project_id: str | int, key: str, value: str) -> None:
        self.request("PUT", f"projects/{_seg(project_id)}/secrets/{_seg(key)}", json={"value": value})

    def delete_secret(self, project_id: str | int, key: str) -> None:
        self.request("DELETE", f"projects/{_seg(project_id)}/secrets/{_seg(key)}")

    # -- schedules -----------------------------------------------------------------------------
    def get_schedules(self, *, last_id: str | int | None = None) -> list[Schedule]:
        return self._many(Schedule, "schedules", "schedules", last_id=last_id)

    def get_schedule(self, schedule_id: str | int) -> Schedule:
        return self._one(Schedule, f"schedules/{_seg(schedule_id)}")

    def get_project_schedules(self, project_id: str | int, workflow: str | None = None) -> list[Schedule]:
        return self._many(Schedule, "schedules", f"projects/{_seg(project_id)}/schedules",
                          workflow=workflow)

    def disable_schedule(self, schedule_id: str | int) -> Schedule:
        return Schedule.from_api(self.request("POST", f"schedules/{_seg(schedule_id)}/disable",
                                              json={}).json())

    def enable_schedule(self, schedule_id: str | int, *, skip_schedule: bool = False,
                        next_time: datetime | str | None = None) -> Schedule:
        """`skip_schedule`: the sessions missed while disabled do not run."""
        body: dict[str, Any] = {"skipSchedule": skip_schedule}
        if next_time is not None:
            body["nextTime"] = api_time(next_time)
        return Schedule.from_api(self.request("POST", f"schedules/{_seg(schedule_id)}/enable",
                                              json=body).json())

    def skip_schedule(self, schedule_id: str | int, *, count: int | None = None,
                      from_time: datetime | str | None = None, next_time: datetime | str | None = None,
                      next_run_time: datetime | str | None = None, dry_run: bool = False) -> Schedule:
        """`digdag reschedule`: to the session at or after `next_time`, or `count` sessions on
        from `from_time`; `next_run_time` sets when that session starts."""
        body: dict[str, Any] = {"dryRun": dry_run}
        for key, value in (("nextTime", next_time), ("fromTime", from_time), ("nextRunTime", next_run_time)):
            if value is not None:
                body[key] = api_time(value)
        if count is not None:
            body["count"] = count
        return Schedule.from_api(self.request("POST", f"schedules/{_seg(schedule_id)}/skip",
                                              json=body).json())

    def backfill_schedule(self, schedule_id: str | int, from_time: datetime | str, name: str, *,
                          count: int | None = None, dry_run: bool = False) -> list[Attempt]:
        """Attempts named `name` of the sessions from `from_time` to the schedule's next one,
        each waiting for the one before it (dry_run: what would start, ids "0")."""
        body: dict[str, Any] = {"fromTime": api_time(from_time), "attemptName": name,
                                "dryRun": dry_run}
        if count is not None:
            body["count"] = count
        data = self.request("POST", f"schedules/{_seg(schedule_id)}/backfill", json=body).json()
        return [Attempt.from_api(a) for a in data["attempts"]]

    # -- workflows -----------------------------------------------------------------------------
    def get_workflows(self, *, last_id: str | int | None = None, count: int | None = None,
                      order: Literal["asc", "desc"] | None = None, name_pattern: str | None = None,
                      search_project_name: bool | None = None) -> list[Workflow]:
        """The workflows of every project's latest revision."""
        return self._many(Workflow, "workflows", "workflows", last_id=last_id, count=count, order=order,
                          name_pattern=name_pattern, search_project_name=search_project_name)

    def get_workflow(self, workflow_id: str | int) -> Workflow:
        return self._one(Workflow, f"workflows/{_seg(workflow_id)}")

    def get_project_workflows(self, project_id: str | int, revision: str | None = None,
                              name: str | None = None) -> list[Workflow]:
        return self._many(Workflow, "workflows", f"projects/{_seg(project_id)}/workflows", revision=revision,
                          name=name)

    def get_project_workflow_by_name(self, project_id: str | int, name: str,
                                     revision: str | None = None) -> Workflow:
        return self._one(Workflow, f"projects/{_seg(project_id)}/workflow", name=name, revision=revision)

    def get_workflow_by_name(self, project: str, name: str, revision: str | None = None) -> Workflow:
        """By the project's name rather than its id."""
        return self._one(Workflow, "workflow", project=project, name=name, revision=revision)

    def truncated_session_time(self, workflow_id: str | int, session_time: datetime | str,
                               mode: Literal["hour", "day", "schedule", "next_schedule"] | None = None,
                               ) -> SessionTime:
        """`session_time` in the workflow's zone, truncated to the hour or day, or moved to its
        schedule's slot; a str without an offset ("2024-05-01T00:00:00") is read in that zone."""
        return self._one(SessionTime, f"workflows/{_seg(workflow_id)}/truncated_session_time",
                         session_time=api_time(session_time), mode=mode)

    # -- attempts ------------------------------------------------------------------------------
    def start_attempt(self, workflow_id: str | int, session_time: datetime | str,
                      params: Mapping[str, Any] | None = None, retry_attempt_name: str | None = None,
                      *, resume: Mapping[str, Any] | None = None) -> Attempt:
        """PUT /api/attempts. AttemptConflict (with `.attempt`) when the session already has an
        attempt of that retry name."""
        body: dict[str, Any] = {"workflowId": str(workflow_id), "sessionTime": api_time(session_time),
                                "params": dict(params or {})}
        if retry_attempt_name is not None:
            body["retryAttemptName"] = retry_attempt_name
        if resume is not None:
            body["resume"] = dict(resume)
        return Attempt.from_api(self.request("PUT", "attempts", json=body).json())

    def retry(self, attempt_id: str | int, *, name: str | None = None,
              resume: Literal["failed"] | None = None, resume_from: str | None = None,
              params: Mapping[str, Any] | None = None,
              revision: Literal["keep", "latest"] = "keep") -> Attempt:
        """A new attempt of the attempt's session, as `digdag retry`: retry name `name` (default
        a uuid4), params the old ones updated with `params`, every task run again unless
        `resume="failed"` (what succeeded is kept) or `resume_from="+wf+task"`. `revision`:
        "keep" runs the same workflow definition, "latest" the one of the project's latest
        revision."""
        if resume is not None and resume_from is not None:
            raise ValueError("resume and resume_from can't be used together")
        if resume not in (None, "failed"):
            raise ValueError(f'resume must be "failed" or None, got {resume!r}')
        if revision not in ("keep", "latest"):
            raise ValueError(f'revision must be "keep" or "latest", got {revision!r}')
        old = self.get_attempt(attempt_id)
        if revision == "latest":
            workflow_id = self.get_project_workflow_by_name(old.project.id, old.workflow.name).id
        elif old.workflow.id is not None:
            workflow_id = old.workflow.id
        else:
            raise ApiError(404, f"attempt {old.id} has no workflow definition id: retry with"
                                ' revision="latest"')
        resume_body: dict[str, Any] | None = None
        if resume == "failed":
            resume_body = {"mode": "failed", "attemptId": old.id}
        elif resume_from is not None:
            resume_body = {"mode": "from", "attemptId": old.id, "from": resume_from}
        return self.start_attempt(workflow_id, old.session_time, {**old.params, **(params or {})},
                                  name or str(uuid.uuid4()), resume=resume_body)

    def get_attempts(self, project: str | None = None, workflow: str | None = None, *,
                     include_retried: bool = False, last_id: str | int | None = None,
                     page_size: int | None = None) -> list[Attempt]:
        """Newest first; `project` and `workflow` are names. One page: see iter_attempts."""
        return self._many(Attempt, "attempts", "attempts", project=project, workflow=workflow,
                          include_retried=include_retried or None, last_id=last_id, page_size=page_size)

    def iter_attempts(self, project: str | None = None, workflow: str | None = None, *,
                      include_retried: bool = False, page_size: int = 100) -> Iterator[Attempt]:
        """Every attempt, newest first, a page at a time."""
        return _pages(lambda last_id: self.get_attempts(project, workflow, include_retried=include_retried,
                                                        last_id=last_id, page_size=page_size))

    def get_attempt(self, attempt_id: str | int) -> Attempt:
        return self._one(Attempt, f"attempts/{_seg(attempt_id)}")

    def get_attempt_retries(self, attempt_id: str | int) -> list[Attempt]:
        """Every attempt of the attempt's session, the first one first."""
        return self._many(Attempt, "attempts", f"attempts/{_seg(attempt_id)}/retries")

    def kill(self, attempt_id: str | int) -> Attempt:
        """Ask the attempt to stop (Conflict when it is done or already asked)."""
        return Attempt.from_api(self.request("POST", f"attempts/{_seg(attempt_id)}/kill", json={}).json())

    kill_attempt = kill

    def wait(self, attempt_id: str | int, timeout: float | None = None, poll: float = 0.5) -> Attempt:
        """Poll until the attempt is done (the pause grows to 5 s); TimeoutError after `timeout`
        seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = poll
        while True:
            attempt = self.get_attempt(attempt_id)
            if attempt.done:
                return attempt
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"attempt {attempt_id} is still {attempt.state} after {timeout} s")
                time.sleep(min(pause, left))
            else:
                time.sleep(pause)
            pause = min(max(pause, 0.05) * 1.5, MAX_POLL)

    def get_tasks(self, attempt_id: str | int) -> list[Task]:
        return self._many(Task, "tasks", f"attempts/{_seg(attempt_id)}/tasks")

    # -- sessions ------------------------------------------------------------------------------
    def get_sessions(self, *, project_id: str | int | None = None, workflow: str | None = None,
                     last_id: str | int | None = None, page_size: int | None = None) -> list[Session]:
        """Newest first; with `project_id`, that project's (and `workflow`'s, a name)."""
        if project_id is not None:
            return self.get_project_sessions(project_id, workflow, last_id=last_id, page_size=page_size)
        if workflow is not None:
            raise ValueError("workflow= needs project_id=")
        return self._many(Session, "sessions", "sessions", last_id=last_id, page_size=page_size)

    def get_project_sessions(self, project_id: str | int, workflow: str | None = None, *,
                             last_id: str | int | None = None, page_size: int | None = None) -> list[Session]:
        return self._many(Session, "sessions", f"projects/{_seg(project_id)}/sessions", workflow=workflow,
                          last_id=last_id, page_size=page_size)

    def iter_sessions(self, *, project_id: str | int | None = None, workflow: str | None = None,
                      page_size: int = 100) -> Iterator[Session]:
        return _pages(lambda last_id: self.get_sessions(project_id=project_id, workflow=workflow,
                                                        last_id=last_id, page_size=page_size))

    def get_session(self, session_id: str | int) -> Session:
        return self._one(Session, f"sessions/{_seg(session_id)}")

    def get_session_attempts(self, session_id: str | int, *, last_id: str | int | None = None,
                             page_size: int | None = None) -> list[Attempt]:
        return self._many(Attempt, "attempts", f"sessions/{_seg(session_id)}/attempts", last_id=last_id,
                          page_size=page_size)

    # -- logs ----------------------------------------------------------------------------------
    def get_log_files(self, attempt_id: str | int, task: str | None = None) -> list[LogFile]:
        """The attempt's log files; `task`: only those of tasks whose name starts with it."""
        return self._many(LogFile, "files", f"logs/{_seg(attempt_id)}/files", task=task)

    def get_log_bytes(self, attempt_id: str | int, file_name: str) -> bytes:
        data = self.request("GET", f"logs/{_seg(attempt_id)}/files/{_seg(file_name)}").content
        return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data

    def get_log(self, attempt_id: str | int, file_name: str) -> str:
        """The text of one log file (gunzipped)."""
        return self.get_log_bytes(attempt_id, file_name).decode("utf-8", errors="replace")


def _seg(value: str | int) -> str:
    """One path segment: an id or a log file's name, %-quoted."""
    return quote(str(value), safe="+@")


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    text = response.text.strip()
    return text[:500] if text else response.reason_phrase or f"HTTP {response.status_code}"


def _pages(fetch: Callable[[str | None], list[P]]) -> Iterator[P]:
    """Follow `last_id` backwards until a page comes back empty."""
    last_id: str | None = None
    while True:
        page = fetch(last_id)
        if not page:
            return
        yield from page
        last_id = page[-1].id
