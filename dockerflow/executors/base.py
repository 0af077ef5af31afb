"""The executor seam: operators describe a command, an executor runs it.

An operator (sh>, py>) builds an `ExecRequest` and calls `Executor.run`; it never starts a
process itself. The host executor runs a subprocess; the Docker executor runs a container.
Both stream output line by line through `on_output` and return an `ExecResult`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol

if TYPE_CHECKING:
    from dockerflow.executors.docker_options import DockerOptions


class ExitReason(str, Enum):
    EXITED = "exited"
    TIMEOUT = "timeout"
    OOM = "oom"
    SIGNAL = "signal"
    CANCELED = "canceled"


@dataclass
class ExecRequest:
    """One command to run.

    argv        the command, e.g. ["/bin/sh", "/abs/.dockerflow/io/<task>/runner.sh"]
    env         extra environment (params for sh>, _env); never put on a command line
    cwd         absolute working directory (project dir or its call> subfolder)
    project_dir absolute project folder (bind-mounted at the same path in a container)
    io_dir      absolute per-task I/O folder under <project>/.dockerflow/ (input.json, output.json)
    task_name   full task name, for labels and log prefixes
    docker      the task's merged `docker:` option, parsed and validated by the operator side
                (docker_options.parse_docker_options), or None to run on the host
    taskside    absolute folder of the task-side Python files (py> runner, digdag module);
                mounted read-only at the same path in containers
    on_output   called with each output line (without the trailing newline), in order
    timeout     seconds, or None
    labels      extra identification (run id, attempt) for containers; `cancel(match)` stops
                the runs whose labels include `match`
    canceled    the attempt's stop flag: set before the command starts, it never starts
    on_image    told (name, id) of each image the command runs in (the Docker executor)
    """

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    project_dir: Path
    io_dir: Path
    task_name: str
    on_output: Callable[[str], None]
    docker: DockerOptions | None = None
    taskside: Path | None = None
    timeout: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
    needs_python: bool = False
    canceled: threading.Event = field(default_factory=threading.Event)
    on_image: Callable[[str, str], None] | None = None

    def matches(self, match: Mapping[str, str]) -> bool:
        return all(self.labels.get(k) == v for k, v in match.items())


@dataclass
class ExecResult:
    exit_code: int
    reason: ExitReason = ExitReason.EXITED
    message: str | None = None  # e.g. "killed: out of memory (limit 64m)"


class Executor(Protocol):
    def run(self, request: ExecRequest) -> ExecResult:
        """Run the command to completion (blocking); raise ExecutorError when it cannot start."""
        ...

    def cancel(self, match: Mapping[str, str]) -> None:
        """Stop the runs whose request labels include `match` (one attempt's), from another
        thread; they return CANCELED. Others go on."""
        ...

    def cancel_all(self) -> None:
        """Stop everything this executor is running (the process is stopping), from another
        thread; later runs return CANCELED."""
        ...
