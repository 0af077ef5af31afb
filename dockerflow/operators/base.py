"""What an operator sees (`OperatorContext`) and what every operator provides."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from dockerflow.errors import CommandFailed
from dockerflow.executors.base import ExecRequest, ExecResult, Executor, ExitReason
from dockerflow.graph.task import TaskResult
from dockerflow.pathnames import task_file_name
from dockerflow.secrets import SecretResolver


class ParamStore(Protocol):
    """What param_set>/param_get> keep values in (the run's Store)."""

    def param_set(self, values: Mapping[str, str]) -> None: ...

    def param_get(self, key: str, max_age_seconds: float) -> str | None: ...


class Notifier(Protocol):
    """Where notify> sends (dockerflow.notify's notifiers)."""

    def send(self, notification: Any) -> None: ...


@dataclass
class OperatorContext:
    """Everything an operator may use to do its work.

    config      the task's local config, evaluated (`_command` holds the operator's argument);
                `_do`/`_else_do` stay raw
    params      every parameter the task sees, evaluated, with the built-ins and local keys
    canceled    set when the task's attempt is being stopped (Ctrl-C, kill)
    poll_state  what this task's previous PollAgain left, or None on its first run
    on_image    told (name, id) of each image the task runs in
    load_call   the file a `call>` target names, from the task's folder (dig.workflow.call_loader)
    """

    full_name: str
    op: str
    config: dict[str, Any]
    params: dict[str, Any]
    project_dir: Path
    io_root: Path
    output: Callable[[str], None]
    host: Executor
    docker: Callable[[], Executor]
    canceled: threading.Event
    taskside: Path
    max_tasks: int
    load_config: Callable[[Path], Mapping[str, Any]]
    labels: dict[str, str] = field(default_factory=dict)
    poll_state: dict[str, Any] | None = None
    on_image: Callable[[str, str], None] | None = None
    load_call: Callable[[str], Path] | None = None
    render: Callable[[str], str] = str  # evaluates ${...} in a text with the task's params
    secrets: SecretResolver = field(default_factory=lambda: SecretResolver({}))
    param_store: ParamStore | None = None
    notifier: Notifier | None = None
    _io_dir: Path | None = None

    @property
    def command(self) -> Any:
        return self.config.get("_command")

    @property
    def workdir(self) -> Path:
        sub = self.params.get("_workdir") or ""
        return self.project_dir / sub if sub else self.project_dir

    @property
    def io_dir(self) -> Path:
        if self._io_dir is None:
            self._io_dir = self.io_root / task_file_name(self.full_name)
            self._io_dir.mkdir(parents=True, exist_ok=True)
        return self._io_dir

    def option(self, name: str, default: Any = None) -> Any:
        """An option from the task's keys or params, else from the nested `<op>:` object."""
        if name in self.params:
            return self.params[name]
        nested = self.params.get(self.op)
        if isinstance(nested, Mapping) and name in nested:
            return nested[name]
        return default

    def docker_config(self) -> dict[str, Any] | None:
        value = self.params.get("docker")
        if isinstance(value, Mapping) and value:
            return dict(value)
        return None

    def execute(self, argv: list[str], env: dict[str, str], needs_python: bool = False,
                timeout: float | None = None) -> ExecResult:
        raw = self.docker_config()
        docker = None
        if raw is not None:  # host tasks never load the Docker side
            from dockerflow.executors.docker_options import parse_docker_options

            docker = parse_docker_options(raw, host_env=os.environ, base_dir=str(self.project_dir))
        request = ExecRequest(argv=argv, env=env, cwd=self.workdir, project_dir=self.project_dir,
                              io_dir=self.io_dir, task_name=self.full_name,
                              on_output=self.output, docker=docker, taskside=self.taskside,
                              timeout=timeout, labels=dict(self.labels),
                              needs_python=needs_python, canceled=self.canceled,
                              on_image=self.on_image)
        executor = self.docker() if docker is not None else self.host
        return executor.run(request)


class Operator(Protocol):
    """`retryable`: `_retry` re-runs it on failure. `inline`: quick and never blocks, so the run
    loop calls it directly instead of handing it to a worker thread. `options`: the keys it
    reads besides its command (others get a "not used" warning)."""

    name: ClassVar[str]
    retryable: ClassVar[bool]
    inline: ClassVar[bool]
    options: ClassVar[frozenset[str]]

    def run(self, ctx: OperatorContext) -> TaskResult: ...


def failure_from(result: ExecResult, what: str = "Command") -> CommandFailed:
    """Turn a non-zero exit into Digdag's message, naming OOM kills, signals and timeouts."""
    if result.reason is ExitReason.EXITED:
        message = f"{what} failed with code {result.exit_code}"
    else:
        message = result.message or f"{what} failed: {result.reason.value}"
    return CommandFailed(message, reason=result.reason.value, exit_code=result.exit_code)


class PollAgain(Exception):
    """Raised by an operator that is not done yet (wait>): the coordinator runs the task again
    at `at` (wall-clock seconds) with `ctx.poll_state == state`, holding no worker meanwhile."""

    def __init__(self, at: float, state: dict[str, Any]) -> None:
        self.at = at
        self.state = state
        super().__init__(f"poll again at {at}")


class WaitForAttempt(Exception):
    """Raised by require>: the task finishes when the coordinator's launcher has run (or
    found) an attempt of `workflow` for the session (rerun_on: none | failed | all)."""

    def __init__(self, workflow: str, session_time: str | None, params: dict[str, Any],
                 rerun_on: str, ignore_failure: bool) -> None:
        self.workflow = workflow
        self.session_time = session_time
        self.params = params
        self.rerun_on = rerun_on
        self.ignore_failure = ignore_failure
        super().__init__(f"waiting for {workflow}")
