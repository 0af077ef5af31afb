"""Persistence behind narrow interfaces: `open_store(url)` and the Store contract (base.py).

    sqlite:///abs/path.db, or a plain path     SQLite (the local store; folders are made)
    postgresql://... or postgres://...         PostgreSQL (psycopg is imported only then)

A `.dockerflow/state.db` of the previous release (no migrations table) is adopted and
migrated with its data (store/migrations.py).
"""

from __future__ import annotations

from pathlib import Path

from dockerflow.errors import UserInputError
from dockerflow.store.base import (
    AttemptExists,
    AttemptRecord,
    AttemptStatus,
    Claim,
    Listener,
    ProjectRecord,
    QueuedOutcome,
    RevisionExists,
    RevisionRecord,
    ScheduleFiring,
    ScheduleRecord,
    ScheduleSpec,
    SessionRecord,
    Store,
    TaskRecord,
    WorkflowRecord,
)

__all__ = ["AttemptExists", "AttemptRecord", "AttemptStatus", "Claim", "Listener", "ProjectRecord",
           "QueuedOutcome", "RevisionExists", "RevisionRecord", "ScheduleFiring", "ScheduleRecord",
           "ScheduleSpec", "SessionRecord", "Store",
           "TaskRecord", "WorkflowRecord", "open_store"]

_FORMS = "sqlite:///abs/path.db, a file path, or postgresql://user:password@host:port/database"


def open_store(url: str) -> Store:
    """The store at `url`, its schema migrated to this version (see the module docstring)."""
    from dockerflow.store.sql import SqlStore, sqlite_path

    text = str(url).strip()
    scheme, sep, _ = text.partition("://")
    if not text:
        raise UserInputError(f"empty store URL: use {_FORMS}")
    if not sep:
        if text.startswith(("postgresql:", "postgres:", "sqlite:")):
            raise UserInputError(f"bad store URL {text!r}: use {_FORMS}")
        return SqlStore.sqlite(Path(text))
    scheme = scheme.lower()
    if scheme == "sqlite":
        return SqlStore.sqlite(sqlite_path(text))
    if scheme in ("postgresql", "postgres"):
        return SqlStore.postgresql(text)
    raise UserInputError(f"unknown store URL {text!r}: use {_FORMS}")
