"""The exception tree.

    DockerflowError                 root of everything we raise on purpose
    ├── UserInputError              bad .dig / bad flag: one line, exit status 2
    │   └── DigError                a problem in a workflow file, with file:line
    ├── TaskFailure                 a task failed at run time (message goes to _error)
    │   ├── CommandFailed           its command exited non-zero, was killed or timed out
    │   └── ExprError               a ${...} expression could not be evaluated
    └── ExecutorError               the executor could not run a command (engine down, image missing...)
        └── EngineUnavailable       the Docker engine does not answer: exit status 3
            └── EngineLost          it stopped answering while a task ran (the runner may re-run it)

User errors print one line and exit 2; a failed workflow exits 1 (3 when a task failed because
the Docker engine was unavailable); anything else is a bug and shows a traceback.
"""

from __future__ import annotations


class DockerflowError(Exception):
    """Root of the errors dockerflow raises on purpose."""


class UserInputError(DockerflowError):
    """The user's input (a file, a flag) is refused before anything runs."""


class DigError(UserInputError):
    """A problem in a .dig file, located at file:line when the position is known."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}: {self.message}"
        if self.file:
            return f"{self.file}: {self.message}"
        return self.message


class TaskFailure(DockerflowError):
    """A task failed; the message is what `${error.message}` shows."""


class CommandFailed(TaskFailure):
    """The task's command ended badly: `reason` is an ExitReason value (exited, oom, signal,
    timeout, canceled) and `exit_code` its status."""

    def __init__(self, message: str, *, reason: str, exit_code: int | None) -> None:
        self.reason = reason
        self.exit_code = exit_code
        super().__init__(message)


class ExprError(TaskFailure):
    """A `${...}` expression failed (unknown variable, JS error)."""


class ExecutorError(TaskFailure):
    """The executor could not run the command; the message says what to do."""


class EngineUnavailable(ExecutorError):
    """The Docker engine does not answer (not running, wrong DOCKER_HOST): an infrastructure
    fault, not bad input; the CLI exits 3."""


class EngineLost(EngineUnavailable):
    """The engine stopped answering while a task's container was being created, started,
    followed or waited for. The executor has already waited for it (bounded) and, when it came
    back, removed what was left of the container.

    recovered   True: the engine answers again and the task's container is gone, so the task
                may run again from the start; False: it did not come back in time
    container   the container's name (for messages; the next run's reaper removes leftovers)
    waited      seconds spent waiting for the engine
    """

    def __init__(self, message: str, *, recovered: bool, container: str | None = None,
                 waited: float = 0.0) -> None:
        self.recovered = recovered
        self.container = container
        self.waited = waited
        super().__init__(message)
