"""Task states (Digdag's codes) and the table of allowed transitions."""

from __future__ import annotations

from enum import Enum


class TaskState(str, Enum):
    BLOCKED = "blocked"
    READY = "ready"
    RETRY_WAITING = "retry_waiting"
    GROUP_RETRY_WAITING = "group_retry_waiting"
    RUNNING = "running"
    PLANNED = "planned"
    GROUP_ERROR = "group_error"
    SUCCESS = "success"
    ERROR = "error"
    CANCELED = "canceled"

    @property
    def code(self) -> int:
        return _CODES[self]

    @property
    def done(self) -> bool:
        return self in DONE

    @property
    def failed(self) -> bool:
        return self in (TaskState.ERROR, TaskState.GROUP_ERROR)

    @property
    def progressing(self) -> bool:
        """Counts as work under way in its parent (the parent can't settle yet)."""
        return self in PROGRESSING


S = TaskState
_CODES = {S.BLOCKED: 0, S.READY: 1, S.RETRY_WAITING: 2, S.GROUP_RETRY_WAITING: 3, S.RUNNING: 4,
          S.PLANNED: 5, S.GROUP_ERROR: 6, S.SUCCESS: 7, S.ERROR: 8, S.CANCELED: 9}
DONE = frozenset({S.SUCCESS, S.GROUP_ERROR, S.ERROR, S.CANCELED})
PROGRESSING = frozenset({S.READY, S.RETRY_WAITING, S.GROUP_RETRY_WAITING, S.RUNNING, S.PLANNED})

TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    S.BLOCKED: frozenset({S.READY, S.PLANNED, S.CANCELED, S.SUCCESS}),
    # READY -> SUCCESS/PLANNED/ERROR: a saved result replayed on resume (with its children)
    S.READY: frozenset({S.RUNNING, S.SUCCESS, S.PLANNED, S.ERROR, S.CANCELED}),
    S.RUNNING: frozenset({S.SUCCESS, S.PLANNED, S.ERROR, S.RETRY_WAITING, S.CANCELED}),
    S.RETRY_WAITING: frozenset({S.READY, S.CANCELED}),
    S.GROUP_RETRY_WAITING: frozenset({S.READY, S.PLANNED, S.CANCELED}),
    S.PLANNED: frozenset({S.SUCCESS, S.ERROR, S.GROUP_ERROR, S.GROUP_RETRY_WAITING,
                          S.CANCELED}),
    S.SUCCESS: frozenset(),
    S.ERROR: frozenset(),
    S.GROUP_ERROR: frozenset(),
    S.CANCELED: frozenset(),
}


class IllegalTransition(Exception):
    """A bug: the scheduler tried a move the table forbids."""


def check_transition(old: TaskState, new: TaskState) -> None:
    if new not in TRANSITIONS[old]:
        raise IllegalTransition(f"{old.value} -> {new.value}")
