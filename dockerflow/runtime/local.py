"""Local mode: one attempt of a workflow's session, with state in `<project>/.dockerflow/`.

Used by `dockerflow run` and by `require>` (which runs another workflow of the project for
the same session, in the same process).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from dockerflow.executors.base import Executor
from dockerflow.graph.spec import Workflow
from dockerflow.runtime.params import SessionInfo
from dockerflow.runtime.reporter import Reporter
from dockerflow.runtime.runner import Runner, RunOptions, RunSummary
from dockerflow.secrets import LocalSecrets
from dockerflow.store.local import LocalStore
from dockerflow.timeutil import iso_offset


@dataclass
class LocalAttempt:
    runner: Runner
    store: LocalStore
    session_id: int
    attempt_id: int

    def run(self) -> RunSummary:
        """Run the attempt; it is always finished in the store, even when the run breaks."""
        status = "error"
        try:
            summary = self.runner.run()
            status = "success" if summary.success else "killed" if summary.interrupted else "error"
            return summary
        finally:
            self.store.finish_attempt(self.attempt_id, status)


def state_dir(project: Path) -> Path:
    return project / ".dockerflow"


def start_attempt(workflow: Workflow, project: Path, store: LocalStore, session_time: datetime,
                  attempt_params: Mapping[str, Any], reporter: Reporter, options: RunOptions,
                  docker_factory: Callable[[], Executor] | None,
                  requiring: tuple[str, ...] = (),
                  secrets: Mapping[str, str] | None = None) -> LocalAttempt:
    """Open (or reopen) the session and start a new attempt of it."""
    session_id, session_uuid = store.open_session(workflow.name, iso_offset(session_time),
                                                  new_uuid=str(uuid.uuid4()))
    attempt_id = store.start_attempt(session_id)
    session = SessionInfo(session_time, workflow.timezone, workflow.schedule,
                          session_id=session_id, attempt_id=attempt_id,
                          last_executed=store.last_executed_before(workflow.name, session_time),
                          session_uuid=session_uuid)
    stamp = session_time.strftime("%Y%m%dT%H%M%S%z")
    if reporter.log_dir is None:
        reporter.log_dir = state_dir(project) / "logs" / workflow.name / stamp
    try:
        runner = Runner(workflow, project, session, attempt_params, store, session_id, reporter,
                        options, docker_factory=docker_factory,
                        io_root=state_dir(project) / "io" / workflow.name / stamp,
                        requiring=requiring + (f"{workflow.name}@{iso_offset(session_time)}",),
                        secrets=LocalSecrets().values() if secrets is None else secrets)
    except BaseException:  # refused (too many tasks...): the attempt must not stay 'running'
        store.finish_attempt(attempt_id, "refused")
        raise
    return LocalAttempt(runner, store, session_id, attempt_id)
