"""The wire between the coordinator of an attempt and whoever runs its tasks.

    TaskRequest  -> TaskWorker.execute(request, cancel) -> TaskOutcome

Both are frozen and plain data (ids, not objects): a local run hands them over in memory, a
run through a database stores them as JSON (`to_json` / `from_json`) for workers in other
processes. The coordinator has already evaluated `${...}`: `config` and `params` arrive
rendered. Secrets never travel here: workers resolve `${secret:...}` themselves.

Outcome kinds:
    success   the task finished well: `result` holds store / export / subtask_config
    failed    `error` says why (a TaskError: message, reason, exit code)
    poll      not done yet: run the task again at `poll_at` (wall time) with `poll_state`
              (wait>), without holding a worker meanwhile
    require   the task waits for another attempt (require>): the coordinator launches it
              and finishes the task when it ends

TaskQueue is the coordinator's only view of execution (runtime/queue.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol


class ErrorReason(str, Enum):
    FAILED = "failed"  # the command exited non-zero, or the operator refused
    OOM = "oom"
    SIGNAL = "signal"
    TIMEOUT = "timeout"
    CANCELED = "canceled"
    ENGINE_UNAVAILABLE = "engine_unavailable"  # the Docker engine did not answer
    BUG = "bug"  # an unexpected exception in dockerflow itself (stacktrace kept)


class OutcomeKind(str, Enum):
    SUCCESS = "success"
    FAILED = "failed"
    POLL = "poll"
    REQUIRE = "require"


@dataclass(frozen=True, slots=True)
class TaskError:
    message: str
    reason: ErrorReason = ErrorReason.FAILED
    exit_code: int | None = None
    stacktrace: str | None = None

    def as_param(self) -> dict[str, Any]:
        """The `${error}` a `_error` task sees (Digdag: message, stacktrace; plus ours)."""
        out: dict[str, Any] = {"message": self.message, "reason": self.reason.value}
        if self.exit_code is not None:
            out["exit_code"] = self.exit_code
        if self.stacktrace is not None:
            out["stacktrace"] = self.stacktrace
        return out

    def to_json(self) -> dict[str, Any]:
        return {"message": self.message, "reason": self.reason.value,
                "exit_code": self.exit_code, "stacktrace": self.stacktrace}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskError:
        return cls(str(data["message"]), ErrorReason(data.get("reason", "failed")),
                   data.get("exit_code"), data.get("stacktrace"))


@dataclass(frozen=True, slots=True)
class RequireCall:
    """require>: which attempt the task waits for."""

    workflow: str
    session_time: str | None
    params: dict[str, Any]
    rerun_on: str  # none | failed | all
    ignore_failure: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"workflow": self.workflow, "session_time": self.session_time,
                "params": self.params, "rerun_on": self.rerun_on,
                "ignore_failure": self.ignore_failure}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RequireCall:
        return cls(data["workflow"], data.get("session_time"), dict(data.get("params") or {}),
                   data.get("rerun_on", "none"), bool(data.get("ignore_failure")))


@dataclass(frozen=True, slots=True)
class TaskRequest:
    """One task to run.

    task_id     the task's id in the attempt's tree (unique in the attempt)
    op          the operator's name, e.g. "sh"
    config      the task's own keys, rendered (`_command` holds the operator's argument)
    params      every parameter the task sees, rendered, with the built-ins
    project_dir absolute project folder as the coordinator sees it
    io_root     absolute folder of the attempt's per-task I/O folders
    archive     digest of the project archive in the store, for workers that can't see
                project_dir (None in a local run)
    labels      identification for containers: run, session, attempt
    poll_state  what the task's previous poll left (wait>)
    project_id  the server's project (0 in a local run): whose secrets the task may read
    """

    attempt_id: int
    task_id: int
    task_name: str
    op: str
    config: dict[str, Any]
    params: dict[str, Any]
    project_dir: str
    io_root: str
    workflow: str
    labels: dict[str, str] = field(default_factory=dict)
    max_tasks: int = 100_000
    cache: bool = True
    poll_state: dict[str, Any] | None = None
    archive: str | None = None
    project_id: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"attempt_id": self.attempt_id, "task_id": self.task_id,
                "task_name": self.task_name, "op": self.op, "config": self.config,
                "params": self.params, "project_dir": self.project_dir,
                "io_root": self.io_root, "workflow": self.workflow, "labels": self.labels,
                "max_tasks": self.max_tasks, "cache": self.cache,
                "poll_state": self.poll_state, "archive": self.archive,
                "project_id": self.project_id}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskRequest:
        return cls(int(data["attempt_id"]), int(data["task_id"]), str(data["task_name"]),
                   str(data["op"]), dict(data["config"]), dict(data["params"]),
                   str(data["project_dir"]), str(data["io_root"]), str(data["workflow"]),
                   dict(data.get("labels") or {}), int(data.get("max_tasks", 100_000)),
                   bool(data.get("cache", True)), data.get("poll_state"), data.get("archive"),
                   int(data.get("project_id") or 0))


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    """What running a request gave (see the module docstring for the kinds).

    result          success: {"store", "export", "subtask_config", "reset_store"} (those set)
    retryable       failed: whether `_retry` may run the task again
    started         False: canceled while queued, it never ran
    images          image name -> id the task ran in
    engine_reruns   times the task ran again because the Docker engine restarted under it
    cached          its `_cache` entry was restored instead of running it
    """

    attempt_id: int
    task_id: int
    task_name: str
    kind: OutcomeKind
    result: dict[str, Any] | None = None
    error: TaskError | None = None
    retryable: bool = True
    started: bool = True
    poll_at: float | None = None
    poll_state: dict[str, Any] | None = None
    require: RequireCall | None = None
    images: dict[str, str] = field(default_factory=dict)
    engine_reruns: int = 0
    cached: bool = False

    @classmethod
    def failed(cls, request: TaskRequest, error: TaskError, *, retryable: bool = True,
               started: bool = True, **extra: Any) -> TaskOutcome:
        return cls(request.attempt_id, request.task_id, request.task_name, OutcomeKind.FAILED,
                   error=error, retryable=retryable, started=started, **extra)

    def to_json(self) -> dict[str, Any]:
        return {"attempt_id": self.attempt_id, "task_id": self.task_id,
                "task_name": self.task_name, "kind": self.kind.value, "result": self.result,
                "error": self.error.to_json() if self.error else None,
                "retryable": self.retryable, "started": self.started, "poll_at": self.poll_at,
                "poll_state": self.poll_state,
                "require": self.require.to_json() if self.require else None,
                "images": self.images, "engine_reruns": self.engine_reruns,
                "cached": self.cached}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskOutcome:
        return cls(int(data["attempt_id"]), int(data["task_id"]), str(data["task_name"]),
                   OutcomeKind(data["kind"]), data.get("result"),
                   TaskError.from_json(data["error"]) if data.get("error") else None,
                   bool(data.get("retryable", True)), bool(data.get("started", True)),
                   data.get("poll_at"), data.get("poll_state"),
                   RequireCall.from_json(data["require"]) if data.get("require") else None,
                   dict(data.get("images") or {}), int(data.get("engine_reruns", 0)),
                   bool(data.get("cached", False)))


class TaskQueue(Protocol):
    """How requests reach workers and outcomes come back (runtime/queue.py has the two)."""

    def open(self, attempt_id: int) -> None: ...

    def submit(self, request: TaskRequest) -> TaskOutcome | None: ...

    def wait(self, attempt_id: int, timeout: float | None) -> list[TaskOutcome]: ...

    def post(self, outcome: TaskOutcome) -> None: ...

    def wake(self, attempt_id: int) -> None: ...

    def cancel(self, attempt_id: int) -> None: ...

    def pending(self, attempt_id: int) -> int | None: ...

    def kill_requested(self, attempt_id: int) -> bool: ...  # a cancel written to the store

    def close(self, attempt_id: int) -> None: ...
