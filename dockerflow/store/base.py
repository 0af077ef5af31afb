"""The store contract: what the runtime keeps between runs and shares with workers.

One `Store` per process (or per server) holds sessions and their attempts, the results a
resumed attempt replays, the task records and logs of every attempt, the project archives the
attempts run, the task queue that workers in other processes claim work from, and the projects
a server was pushed (their revisions and workflow definitions). Sessions are keyed by project:
project 0 holds the sessions of local runs, which have no project. `open_store`
(dockerflow.store) picks the implementation from a URL; `SqlStore` (store/sql.py) implements it
over SQLite and PostgreSQL.

Writes the coordinator makes for every task (`save_task`, `save_result`) are buffered and
written in batches; everything else is written at once. Waiting for another process is
event-driven: `listen` / `notify` (store/notify.py), never a sleep loop.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from dockerflow.errors import DockerflowError


class AttemptStatus(str, Enum):
    RUNNING = "running"
    SUCCESS = "success"
    ERROR = "error"
    KILLED = "killed"
    REFUSED = "refused"

    @property
    def done(self) -> bool:
        return self is not AttemptStatus.RUNNING


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: int
    workflow: str
    session_time: str
    uuid: str
    project_id: int = 0  # 0: a local run's session, which has no project


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """`workflow`, `session_time` and `project_id` are the session's; `index` is the 1-based
    position of the attempt within its session (by id)."""

    id: int
    session_id: int
    workflow: str
    session_time: str
    status: AttemptStatus
    started_at: float
    finished_at: float | None
    cancel_requested: bool
    params: dict[str, Any]
    retry_attempt_name: str | None = None
    workflow_id: int | None = None
    index: int = 1
    project_id: int = 0
    after_attempt_id: int | None = None


@dataclass(frozen=True, slots=True)
class ProjectRecord:
    """`updated_at`: the created_at of its latest revision."""

    id: int
    name: str
    created_at: float
    deleted_at: float | None
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class RevisionRecord:
    id: int
    project_id: int
    name: str
    created_at: float
    archive_digest: str  # sha256 hex, the key of get_archive()
    archive_md5: str  # base64 of the raw MD5 of the archive bytes (Digdag's archiveMd5)
    user_info: dict[str, Any]


@dataclass(frozen=True, slots=True)
class WorkflowRecord:
    """A workflow definition of one revision; `revision` is the revision's name."""

    id: int
    project_id: int
    revision_id: int
    revision: str
    name: str
    timezone: str
    config: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ScheduleRecord:
    """A workflow's schedule: the next session it starts (`next_schedule_time`, an offset time in
    the workflow's zone) and when (`next_run_time`, epoch seconds). `workflow_id` is the
    definition of the project's latest revision; `config` its `schedule:` block."""

    id: int
    project_id: int
    workflow: str
    workflow_id: int
    config: dict[str, Any]
    next_run_time: float
    next_schedule_time: str
    disabled_at: float | None
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """A push's schedule for one workflow, with the first session it would start."""

    workflow: str
    config: dict[str, Any]
    next_run_time: float
    next_schedule_time: str


@dataclass(frozen=True, slots=True)
class ScheduleFiring:
    """What the scheduler decided for a due schedule: start its session (or skip it), then
    move on to the given next session."""

    start: bool
    next_run_time: float
    next_schedule_time: str


class RevisionExists(DockerflowError):
    """put_revision of a revision name the project already has."""

    def __init__(self, project: str, revision: str) -> None:
        self.project = project
        self.revision = revision
        super().__init__(f'Revision "{revision}" of project "{project}" already exists')


class AttemptExists(DockerflowError):
    """start_attempt(unique=True) of a session that already has an attempt of that retry name;
    `attempt_id` is the existing attempt."""

    def __init__(self, attempt_id: int) -> None:
        self.attempt_id = attempt_id
        super().__init__(f"the session already has this attempt (attempt id {attempt_id})")


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """One task of one attempt, as the coordinator last wrote it. Times are wall-clock epoch
    seconds; `state` is a graph TaskState value ("blocked", "ready", "running", "success"...)."""

    attempt_id: int
    name: str
    state: str
    retry_count: int = 0
    retry_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    result: dict[str, Any] | None = None  # store/export params etc.
    error: dict[str, Any] | None = None
    # its place in the attempt's tree: given with the task's first record (None later keeps
    # what was stored); ids are the scheduler's, unique within the attempt
    task_id: int | None = None
    parent_id: int | None = None
    is_group: bool | None = None
    config: dict[str, Any] | None = None  # its own keys, with _export when it has one
    upstreams: tuple[int, ...] | None = None  # ids of the siblings it waits for


@dataclass(frozen=True, slots=True)
class Claim:
    """A queued task request a worker claimed. `retry_count`: times the row was claimed again
    after a lease expired (its previous worker vanished)."""

    queue_id: int
    attempt_id: int
    task_name: str
    request: dict[str, Any]
    retry_count: int


@dataclass(frozen=True, slots=True)
class QueuedOutcome:
    queue_id: int
    attempt_id: int
    task_name: str
    outcome: dict[str, Any]
    retry_count: int


class Listener(Protocol):
    def wait(self, timeout: float | None) -> bool:
        """True when notified (or notified since the previous wait), False on timeout."""
        ...

    def close(self) -> None: ...


class Store(Protocol):
    url: str

    # -- projects, revisions, workflow definitions ---------------------------------------------
    def put_revision(self, project: str, revision: str, archive: bytes,
                     workflows: Sequence[tuple[str, str, Mapping[str, Any]]],
                     user_info: Mapping[str, Any] | None = None,
                     schedules: Sequence[ScheduleSpec] = (),
                     restart_schedules: Collection[str] = ()) -> tuple[ProjectRecord, RevisionRecord]:
        """In one transaction: the live project named `project` (made when there is none: a
        deleted project's name is free again and makes a new project id), a new revision, its
        archive (as put_archive) and its workflow definitions (name, timezone, config), each
        with a new id. The project's updated_at becomes the revision's created_at. Raises
        RevisionExists (storing nothing) when the live project has a revision of that name,
        ValueError when two workflows have the same name.

        The project's schedules become `schedules`: one of a workflow that had none is made,
        one whose workflow has none any more is deleted; one whose `schedule:` block is the
        same keeps its next session (and its disabled state), unless its workflow is in
        `restart_schedules`, and then, like one whose block changed, takes the spec's times."""
        ...

    def project(self, project_id: int) -> ProjectRecord | None:
        """Deleted ones too."""
        ...

    def live_project(self, name: str) -> ProjectRecord | None: ...

    def projects(self, *, last_id: int = 0, count: int = 100,
                 name_pattern: str | None = None) -> list[ProjectRecord]:
        """Live projects with id > last_id, id ascending; `name_pattern`: a case-sensitive
        substring of the name."""
        ...

    def delete_project(self, project_id: int) -> ProjectRecord | None:
        """Sets deleted_at (once: a deleted project is returned unchanged); None if unknown."""
        ...

    def revisions(self, project_id: int, name: str | None = None) -> list[RevisionRecord]:
        """Newest first; `name`: only that one."""
        ...

    def revision(self, project_id: int, name: str | None = None) -> RevisionRecord | None:
        """The revision of that name; no name: the latest."""
        ...

    def workflows_of(self, revision_id: int, name: str | None = None) -> list[WorkflowRecord]:
        """Id ascending; `name`: only that one."""
        ...

    def workflow_definition(self, workflow_id: int) -> WorkflowRecord | None:
        """Of any revision, any project."""
        ...

    def latest_workflows(self, *, last_id: int = 0, count: int = 100, descending: bool = False,
                         name_pattern: str | None = None,
                         search_project_name: bool = False) -> list[WorkflowRecord]:
        """The workflows of the latest revision of each live project: ascending, id > last_id;
        descending, id < last_id (0: from the newest). `name_pattern`: a case-sensitive
        substring of the workflow's name, or (search_project_name) of its project's name."""
        ...

    # -- sessions (keyed by project: 0 is the local runs') -----------------------------------
    def open_session(self, workflow: str, session_time: str, new_uuid: str,
                     project_id: int = 0) -> SessionRecord:
        """Get or create the session (project_id, workflow, session_time); the first uuid is
        kept. Marks the session as the most recently used one of the workflow."""
        ...

    def last_session_time(self, workflow: str, project_id: int = 0) -> str | None:
        """The session time of the workflow's most recently opened session."""
        ...

    def last_executed_before(self, workflow: str, session_time: datetime,
                             project_id: int = 0) -> datetime | None:
        """The latest session time before `session_time` that has an attempt."""
        ...

    def get_session(self, session_id: int) -> SessionRecord | None: ...

    def find_session(self, workflow: str, session_time: str, project_id: int = 0) -> SessionRecord | None:
        """The session of that workflow and exact session time text, if one was opened."""
        ...

    def sessions(self, *, project_id: int | None = None, workflow: str | None = None,
                 last_id: int | None = None, page_size: int = 100) -> list[SessionRecord]:
        """Newest first (id descending), id < last_id; project_id None: every project's."""
        ...

    # -- attempts (always finished: callers call finish_attempt in a finally) ------------------
    def start_attempt(self, session_id: int, params: Mapping[str, Any] | None = None, *,
                      retry_attempt_name: str | None = None, workflow_id: int | None = None,
                      unique: bool = False, after_attempt_id: int | None = None) -> int:
        """A new running attempt of the session. `unique`: raise AttemptExists (with the
        existing id) when the session has an attempt of the same retry_attempt_name (None
        equals None), atomically across connections. `after_attempt_id`: the attempt must
        not start its tasks before that one is done (a backfill's chain)."""
        ...

    def finish_attempt(self, attempt_id: int, status: AttemptStatus) -> None:
        """Flushes buffered writes, then records the status and the finish time."""
        ...

    def get_attempt(self, attempt_id: int) -> AttemptRecord | None: ...

    def last_attempt(self, session_id: int) -> AttemptRecord | None: ...

    def attempts(self, *, session_id: int | None = None, project_id: int | None = None,
                 workflow: str | None = None, include_retried: bool = True,
                 last_id: int | None = None, page_size: int = 100,
                 status: AttemptStatus | None = None) -> list[AttemptRecord]:
        """Newest first (id descending), id < last_id. include_retried=False: only the newest
        attempt of each session. `status`: only attempts in that state."""
        ...

    def session_attempts(self, session_id: int) -> list[AttemptRecord]:
        """The session's attempts, index ascending."""
        ...

    def request_cancel(self, attempt_id: int) -> None:
        """Marks the attempt cancel_requested, deletes its queued rows no worker holds and
        notifies "cancel" (its workers) and "attempt_<id>" (its coordinator)."""
        ...

    def canceled_attempts(self, attempt_ids: Collection[int]) -> set[int]: ...

    # coordinator leases: a server owns the attempts it coordinates; when it dies, another
    # takes them over (attempts never leased, such as a `run`'s, are never taken over)
    def lease_attempt(self, attempt_id: int, owner: str, lease_seconds: float) -> bool: ...
    # takes or renews the lease when free, expired or already owner's; False: someone else's

    def claim_orphaned_attempt(self, owner: str, lease_seconds: float) -> int | None: ...
    # a running attempt whose owner's lease expired, now owner's (several servers: each once)

    def release_attempt(self, attempt_id: int, owner: str) -> None: ...
    # the owner's lease expires now: another coordinator may take the attempt over at once

    def drop_queued(self, attempt_id: int) -> int: ...
    # every queue row of the attempt (a new coordinator starts over): how many

    # -- the images an attempt's tasks ran in (name -> image id) -------------------------------
    def record_images(self, attempt_id: int, images: Mapping[str, str]) -> None: ...

    def attempt_images(self, attempt_id: int) -> dict[str, str]: ...

    # -- results of succeeded tasks per session (what a resumed attempt replays) ---------------
    def results(self, session_id: int) -> dict[str, dict[str, Any]]: ...

    def clear_results(self, session_id: int) -> None: ...

    def save_result(self, session_id: int, name: str, record: Mapping[str, Any]) -> None:
        """Buffered; the latest save of a name wins."""
        ...

    # -- task records per attempt --------------------------------------------------------------
    def save_task(self, record: TaskRecord) -> None:
        """Buffered; the latest save of (attempt_id, name) wins."""
        ...

    def tasks(self, attempt_id: int) -> list[TaskRecord]:
        """In first-saved order (flushes first)."""
        ...

    def flush(self) -> None:
        """Writes every buffered save in one transaction. Buffers also flush themselves at
        2000 entries or when the previous flush is more than a second old."""
        ...

    # -- per-task logs -------------------------------------------------------------------------
    def append_log(self, attempt_id: int, task_name: str, lines: Sequence[str]) -> None: ...

    def task_log(self, attempt_id: int, task_name: str) -> list[str]: ...

    def keep_logs_in(self, folder: Path) -> None:
        """From now on task logs are files under `folder` (`server --task-log DIR`)."""
        ...

    def log_tasks(self, attempt_id: int) -> list[str]:
        """Names of the attempt's tasks that have log lines, in order of their first line."""
        ...

    # -- project secrets (values as the caller encrypted them; never listed) -------------------
    def put_secret(self, project_id: int, key: str, value: str) -> None: ...

    def delete_secret(self, project_id: int, key: str) -> bool: ...  # False: there was none

    def secret_keys(self, project_id: int) -> list[str]: ...  # sorted

    def secret_values(self, project_id: int) -> dict[str, str]: ...

    # -- the param store (param_set> / param_get>): one namespace, string values ---------------
    def param_set(self, values: Mapping[str, str]) -> None: ...

    def param_get(self, key: str, max_age_seconds: float) -> str | None:
        """The value, unless it is older than max_age_seconds (Digdag: 90 days)."""
        ...

    # -- schedules (made and removed by put_revision and delete_project) -----------------------
    def schedules(self, *, project_id: int | None = None, workflow: str | None = None,
                  last_id: int = 0, count: int = 100) -> list[ScheduleRecord]:
        """Of live projects, id > last_id, id ascending."""
        ...

    def get_schedule(self, schedule_id: int) -> ScheduleRecord | None:
        """None for an unknown id or a deleted project's."""
        ...

    def update_schedule(self, schedule_id: int, *, next_run_time: float | None = None,
                        next_schedule_time: str | None = None,
                        disabled: bool | None = None) -> ScheduleRecord | None:
        """Sets what is given (disabled: True stamps disabled_at now, False clears it)."""
        ...

    def next_schedule_run(self) -> float | None:
        """The earliest next_run_time of the enabled schedules of live projects."""
        ...

    def fire_schedule(self, now: float,
                      decide: Callable[[ScheduleRecord, bool], ScheduleFiring],
                      owner: str, lease_seconds: float) -> tuple[ScheduleRecord, int | None] | None:
        """One due schedule (enabled, next_run_time <= now), None when there is none, in one
        transaction that other processes' calls skip (PostgreSQL: FOR UPDATE SKIP LOCKED).
        `decide(schedule, active)` (pure: it runs inside the transaction; `active`: the
        workflow has a running attempt) says whether to start the session and what comes next.
        Starting opens the session and, unless it has an attempt with no retry name already,
        makes one leased by `owner` (its id is returned with the schedule as it was)."""
        ...

    # -- project archives (tar.gz bytes), content-addressed ------------------------------------
    def put_archive(self, data: bytes) -> str:
        """Stores the bytes (idempotent) and returns their sha256 hex digest."""
        ...

    def get_archive(self, digest: str) -> bytes | None: ...

    # -- the task queue ------------------------------------------------------------------------
    def enqueue(self, attempt_id: int, task_name: str, request: Mapping[str, Any]) -> int:
        """Commits the row, then notifies "queue"; returns the queue id."""
        ...

    def claim(self, owner: str, lease_seconds: float) -> Claim | None:
        """The oldest row with no outcome whose lease is free or expired and whose attempt is
        not cancel_requested; a row whose lease expired is taken over with retry_count + 1."""
        ...

    def heartbeat(self, owner: str, queue_ids: Collection[int], lease_seconds: float) -> set[int]:
        """Extends the leases `owner` still holds; returns their ids."""
        ...

    def complete(self, queue_id: int, owner: str, outcome: Mapping[str, Any]) -> bool:
        """Stores the outcome if `owner` still holds the row (False: another worker took it
        over), then notifies f"attempt_{attempt_id}"."""
        ...

    def release(self, queue_id: int, owner: str) -> None:
        """Gives a claimed row back unrun (retry_count unchanged); notifies "queue"."""
        ...

    def take_outcomes(self, attempt_id: int) -> list[QueuedOutcome]:
        """The attempt's rows that have an outcome, deleted as they are returned, in the order
        they completed."""
        ...

    def queued(self, attempt_id: int) -> int:
        """The attempt's rows still waiting for an outcome."""
        ...

    def next_lease_expiry(self) -> float | None:
        """Wall time of the earliest lease among claimable rows with no outcome, if any."""
        ...

    # -- notifications -------------------------------------------------------------------------
    def listen(self, *channels: str) -> Listener: ...

    def notify(self, channel: str) -> None: ...

    def close(self) -> None:
        """Flushes, then closes the connection."""
        ...
