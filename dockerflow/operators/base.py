"""What an operator sees (`OperatorContext`) and what every operator provides."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from dockerflow.errors import TaskFailure
from dockerflow.executors.base import ExecRequest, ExecResult, Executor, ExitReason
from dockerflow.graph.task import TaskResult
from dockerflow.pathnames import task_file_name
from dockerflow.secrets import SecretResolver


@dataclass
class OperatorContext:
    """Everything an operator may use to do its work.

    config      the task's local config, evaluated (`_command` holds the operator's argument);
                `_do`/`_else_do` stay raw
    params      every parameter the task sees, evaluated, with the built-ins and local keys
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
    require: Callable[[str, str | None, dict[str, Any], str], tuple[bool, int, int]] | None = None
    render: Callable[[str], str] = str  # evaluates ${...} in a text with the task's params
    secrets: SecretResolver = field(default_factory=lambda: SecretResolver({}))
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
                              needs_python=needs_python)
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


def failure_from(result: ExecResult, what: str = "Command") -> TaskFailure:
    """Turn a non-zero exit into Digdag's message, naming OOM kills, signals and timeouts."""
    if result.reason is ExitReason.EXITED:
        return TaskFailure(f"{what} failed with code {result.exit_code}")
    return TaskFailure(result.message or f"{what} failed: {result.reason.value}")
