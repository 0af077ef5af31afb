"""The exception tree.

    DockerflowError                 root of everything we raise on purpose
    ├── UserInputError              bad .dig / bad flag: one line, exit status 2
    │   └── DigError                a problem in a workflow file, with file:line
    ├── TaskFailure                 a task failed at run time (message goes to _error)
    │   └── ExprError               a ${...} expression could not be evaluated
    └── ExecutorError               the executor could not run a command (engine down, image missing...)

User errors print one line and exit 2; a failed workflow exits 1; anything else is a bug
and shows a traceback.
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


class ExprError(TaskFailure):
    """A `${...}` expression failed (unknown variable, JS error)."""


class ExecutorError(TaskFailure):
    """The executor could not run the command; the message says what to do."""
