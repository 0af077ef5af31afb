"""`SqlStore`: the Store contract (store/base.py) over DB-API, for SQLite and PostgreSQL.

One implementation for both databases; what differs lives in a small dialect object:

    placeholder     SQL is written with `?`; PostgreSQL's driver wants `%s`
    write begin     SQLite: BEGIN IMMEDIATE (takes the write lock up front, so a transaction
                    never fails half-way on a lock another process took); PostgreSQL: the
                    driver's implicit BEGIN, autocommit off, a commit at the end of each call
    claim locking   PostgreSQL: FOR UPDATE SKIP LOCKED in the claim's sub-select; SQLite needs
                    none (BEGIN IMMEDIATE serialises claims); likewise FOR UPDATE of the
                    session row for start_attempt(unique=True)
    substrings      name patterns are plain case-sensitive substrings: instr() / strpos()
    notifications   PostgreSQL: NOTIFY; SQLite: Unix datagram sockets (store/notify.py)

One connection per store, guarded by a lock: the coordinator thread and worker threads of a
process share the store. Every call is one short transaction. JSON columns are TEXT holding
json.dumps(..., default=str); times are time.time() floats.

The per-task writes of a run (`save_task`, `save_result`) only append to a buffer: `flush`
writes the buffer with executemany in one transaction, and the buffer flushes itself at 2000
entries or when the previous flush is more than a second old. Reads of buffered data flush
first, so a store always sees its own writes; other connections see them once flushed.
psycopg is imported only when a PostgreSQL store is opened.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from dockerflow.errors import UserInputError
from dockerflow.store import migrations
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
    TaskRecord,
    WorkflowRecord,
)
from dockerflow.store.logdir import LogFolder
from dockerflow.store.notify import PgListener, SocketHub, check_channel, pg_channel

FLUSH_ENTRIES = 2000
FLUSH_SECONDS = 1.0
_CHUNK = 500  # ids per IN (...) list
_R = TypeVar("_R")


_ENCODER = json.JSONEncoder(default=str)  # json.dumps(..., default=str) without a new encoder


def _dumps(value: Any) -> str:
    return _ENCODER.encode(value)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


# -- dialects ----------------------------------------------------------------------------------
class Dialect:
    name = ""
    claim_lock = ""
    row_lock = ""
    skip_locked = ""
    position = "instr"  # position(haystack, needle): 1-based, 0 when absent
    conn: Any

    def __init__(self) -> None:
        self._converted: dict[str, str] = {}

    def sql(self, text: str) -> str:
        return text

    def begin_write(self, cur: Any) -> None:
        """Starts a write transaction (SQLite); PostgreSQL's driver begins one implicitly."""

    def listen(self, channels: tuple[str, ...]) -> Listener:
        raise NotImplementedError

    def notify(self, channel: str, execute: Callable[[str, tuple[Any, ...]], None]) -> None:
        """`execute` runs one statement in a short transaction on the store's connection."""
        raise NotImplementedError

    def close(self) -> None:
        self.conn.close()


class SqliteDialect(Dialect):
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.conn = sqlite3.connect(path, timeout=30.0, isolation_level=None,
                                    check_same_thread=False)
        try:
            self.conn.execute("PRAGMA busy_timeout=30000")
            self._set_wal()
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.hub = SocketHub(path)
        except BaseException:
            self.conn.close()
            raise

    def _set_wal(self) -> None:
        """PRAGMA journal_mode=WAL, which may fail "database is locked" at once, without the
        busy handler, while another connection opens or closes the same new file: tried again
        for as long as the busy timeout."""
        deadline = time.monotonic() + 30.0
        while True:
            try:
                self.conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def begin_write(self, cur: Any) -> None:
        cur.execute("BEGIN IMMEDIATE")

    def listen(self, channels: tuple[str, ...]) -> Listener:
        return self.hub.listen(*channels)

    def notify(self, channel: str, execute: Callable[[str, tuple[Any, ...]], None]) -> None:
        self.hub.notify(channel)

    def close(self) -> None:
        self.hub.close()
        super().close()


class PostgresDialect(Dialect):
    name = "postgresql"
    claim_lock = " FOR UPDATE OF q SKIP LOCKED"
    row_lock = " FOR UPDATE"
    skip_locked = " FOR UPDATE SKIP LOCKED"
    position = "strpos"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.conn = self.connect(autocommit=False)

    def connect(self, autocommit: bool) -> Any:
        import psycopg

        options: dict[str, Any] = {}
        given = psycopg.conninfo.conninfo_to_dict(self.url)
        if "connect_timeout" not in given:
            options["connect_timeout"] = 10
        if "application_name" not in given:
            options["application_name"] = "dockerflow"
        try:
            return psycopg.connect(self.url, autocommit=autocommit, **options)
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise UserInputError(
                f"cannot connect to PostgreSQL at {describe_pg_target(self.url)}: {reason}"
                " (check that the server runs and accepts TCP connections there, and the user"
                " name, password and database name in the URL)") from None

    def sql(self, text: str) -> str:
        converted = self._converted.get(text)
        if converted is None:
            converted = self._converted[text] = text.replace("?", "%s")
        return converted

    def listen(self, channels: tuple[str, ...]) -> Listener:
        return PgListener(self.connect, channels)

    def notify(self, channel: str, execute: Callable[[str, tuple[Any, ...]], None]) -> None:
        execute("SELECT pg_notify(?, '')", (pg_channel(channel),))


# -- the store ---------------------------------------------------------------------------------
_TASK_UPSERT = (
    "INSERT INTO tasks (attempt_id, name, state, retry_count, retry_at, started_at, finished_at,"
    " result, error, task_id, parent_id, is_group, config, upstreams)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (attempt_id, name) DO UPDATE SET state = excluded.state,"
    " retry_count = excluded.retry_count, retry_at = excluded.retry_at,"
    " started_at = excluded.started_at, finished_at = excluded.finished_at,"
    " result = excluded.result, error = excluded.error,"
    # the task's place in the tree comes with its first record only
    " task_id = COALESCE(excluded.task_id, tasks.task_id),"
    " parent_id = COALESCE(excluded.parent_id, tasks.parent_id),"
    " is_group = COALESCE(excluded.is_group, tasks.is_group),"
    " config = COALESCE(excluded.config, tasks.config),"
    " upstreams = COALESCE(excluded.upstreams, tasks.upstreams)")
_RESULT_UPSERT = (
    "INSERT INTO task_results (session_id, full_name, result) VALUES (?, ?, ?)"
    " ON CONFLICT (session_id, full_name) DO UPDATE SET result = excluded.result")
_ATTEMPT_COLUMNS = (
    "SELECT a.id, a.session_id, s.workflow, s.session_time, a.status, a.started_at,"
    " a.finished_at, a.cancel_requested, a.params, a.retry_attempt_name, a.workflow_id,"
    " (SELECT COUNT(*) FROM attempts i WHERE i.session_id = a.session_id AND i.id <= a.id),"
    " s.project_id, a.after_attempt_id FROM attempts a JOIN sessions s ON s.id = a.session_id")
_SCHEDULE_COLUMNS = (
    "SELECT c.id, c.project_id, c.workflow, c.workflow_id, c.config, c.next_run_time,"
    " c.next_schedule_time, c.disabled_at, c.created_at, c.updated_at FROM schedules c"
    " JOIN projects p ON p.id = c.project_id AND p.deleted_at IS NULL")
_SESSION_COLUMNS = "SELECT id, workflow, session_time, session_uuid, project_id FROM sessions"
_PROJECT_COLUMNS = "SELECT id, name, created_at, deleted_at, updated_at FROM projects"
_REVISION_COLUMNS = ("SELECT id, project_id, name, created_at, archive_digest, archive_md5,"
                     " user_info FROM revisions")
_WORKFLOW_COLUMNS = (
    "SELECT w.id, w.project_id, w.revision_id, r.name, w.name, w.timezone, w.config"
    " FROM workflow_definitions w JOIN revisions r ON r.id = w.revision_id")


def _attempt(row: Sequence[Any]) -> AttemptRecord:
    return AttemptRecord(id=int(row[0]), session_id=int(row[1]), workflow=row[2],
                         session_time=row[3], status=AttemptStatus(row[4]),
                         started_at=float(row[5]),
                         finished_at=None if row[6] is None else float(row[6]),
                         cancel_requested=bool(row[7]), params=_loads(row[8]) or {},
                         retry_attempt_name=row[9],
                         workflow_id=None if row[10] is None else int(row[10]),
                         index=int(row[11]), project_id=int(row[12]),
                         after_attempt_id=None if row[13] is None else int(row[13]))


def _schedule(row: Sequence[Any]) -> ScheduleRecord:
    return ScheduleRecord(id=int(row[0]), project_id=int(row[1]), workflow=row[2],
                          workflow_id=int(row[3]), config=_loads(row[4]) or {},
                          next_run_time=float(row[5]), next_schedule_time=row[6],
                          disabled_at=None if row[7] is None else float(row[7]),
                          created_at=float(row[8]), updated_at=float(row[9]))


def _session(row: Sequence[Any]) -> SessionRecord:
    return SessionRecord(id=int(row[0]), workflow=row[1], session_time=row[2], uuid=str(row[3]),
                         project_id=int(row[4]))


def _project(row: Sequence[Any]) -> ProjectRecord:
    return ProjectRecord(id=int(row[0]), name=row[1], created_at=float(row[2]),
                         deleted_at=None if row[3] is None else float(row[3]),
                         updated_at=float(row[4]))


def _revision(row: Sequence[Any]) -> RevisionRecord:
    return RevisionRecord(id=int(row[0]), project_id=int(row[1]), name=row[2],
                          created_at=float(row[3]), archive_digest=row[4], archive_md5=row[5],
                          user_info=_loads(row[6]) or {})


def _workflow(row: Sequence[Any]) -> WorkflowRecord:
    return WorkflowRecord(id=int(row[0]), project_id=int(row[1]), revision_id=int(row[2]),
                          revision=row[3], name=row[4], timezone=row[5],
                          config=_loads(row[6]) or {})


def _maybe(build: Callable[[Sequence[Any]], _R], row: Sequence[Any] | None) -> _R | None:
    return None if row is None else build(row)


class _Where:
    """AND-ed conditions and their parameters, for the listings' optional filters."""

    def __init__(self) -> None:
        self.terms: list[str] = []
        self.params: list[Any] = []

    def add(self, term: str, *params: Any) -> None:
        self.terms.append(term)
        self.params.extend(params)

    def __str__(self) -> str:
        return " WHERE " + " AND ".join(self.terms) if self.terms else ""


def _chunks(ids: Collection[int]) -> Iterator[list[int]]:
    items = [int(i) for i in ids]
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


class SqlStore:
    """The Store contract over one DB-API connection (see the module docstring)."""

    def __init__(self, url: str, dialect: Dialect) -> None:
        self.url = url
        self._d = dialect
        self._lock = threading.RLock()
        self._closed = False
        self._tasks: dict[tuple[int, str], tuple[Any, ...]] = {}
        self._results: dict[tuple[int, str], tuple[int, str, str]] = {}
        self._last_flush = time.monotonic()
        self._logs: LogFolder | None = None  # keep_logs_in()

    @classmethod
    def sqlite(cls, path: Path) -> SqlStore:
        path = path.expanduser().absolute()
        where = f"the SQLite store {path}"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            dialect = SqliteDialect(path)
        except (OSError, sqlite3.Error) as exc:
            raise UserInputError(f"cannot open {where}: {exc} (check that its folder is"
                                 " writable)") from None
        try:
            migrations.migrate(dialect.conn, dialect.name, where)
        except sqlite3.DatabaseError as exc:
            dialect.close()
            raise UserInputError(f"cannot use {where}: {exc}") from None
        except BaseException:
            dialect.close()
            raise
        return cls(f"sqlite://{path}", dialect)

    @classmethod
    def postgresql(cls, url: str) -> SqlStore:
        try:
            import psycopg
        except ImportError:
            raise UserInputError("a PostgreSQL store needs psycopg 3: pip install"
                                 " 'psycopg[binary]'") from None

        dialect = PostgresDialect(url)
        where = f"the PostgreSQL store at {describe_pg_target(url)}"
        try:
            migrations.migrate(dialect.conn, dialect.name, where)
        except psycopg.Error as exc:
            dialect.close()
            raise UserInputError(f"cannot set up {where}: {exc} (check the user's"
                                 " privileges on the database)") from None
        except BaseException:
            dialect.close()
            raise
        return cls(url, dialect)

    def __repr__(self) -> str:
        return f"<SqlStore {self._d.name}>"

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ----------------------------------------------------------------------------
    @contextmanager
    def _tx(self, write: bool = True) -> Iterator[Any]:
        """A cursor in one short transaction, committed at the end (rolled back on error)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the store is closed")
            conn = self._d.conn
            cur = conn.cursor()
            try:
                if write:
                    self._d.begin_write(cur)
                yield cur
                conn.commit()
            except BaseException:
                try:
                    conn.rollback()
                except Exception:  # noqa: BLE001 - a lost connection: report the first error
                    pass
                raise
            finally:
                cur.close()

    def _execute(self, cur: Any, sql: str, params: Sequence[Any] = ()) -> Any:
        cur.execute(self._d.sql(sql), tuple(params))
        return cur

    def _one(self, sql: str, params: Sequence[Any] = (), write: bool = False) -> Any:
        with self._tx(write) as cur:
            rows = self._execute(cur, sql, params).fetchall()  # all: RETURNING finishes
        return rows[0] if rows else None

    def _all(self, sql: str, params: Sequence[Any] = (), write: bool = False) -> list[Any]:
        with self._tx(write) as cur:
            return list(self._execute(cur, sql, params).fetchall())

    def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._tx() as cur:
            return int(self._execute(cur, sql, params).rowcount)

    # -- sessions ----------------------------------------------------------------------------
    def open_session(self, workflow: str, session_time: str, new_uuid: str,
                     project_id: int = 0) -> SessionRecord:
        with self._tx() as cur:
            session_id, session_uuid = self._upsert_session(cur, project_id, workflow, session_time,
                                                            new_uuid)
        return SessionRecord(id=session_id, workflow=workflow, session_time=session_time,
                             uuid=session_uuid, project_id=project_id)

    def _upsert_session(self, cur: Any, project_id: int, workflow: str, session_time: str,
                        new_uuid: str) -> tuple[int, str]:
        """(id, uuid) of the session, made when it is new; its last_used becomes now."""
        row = self._execute(
            cur, "INSERT INTO sessions (project_id, workflow, session_time, session_uuid, last_used)"
                 " VALUES (?, ?, ?, ?, ?) ON CONFLICT (project_id, workflow, session_time)"
                 " DO UPDATE SET last_used = excluded.last_used RETURNING id, session_uuid",
            (project_id, workflow, session_time, new_uuid, time.time())).fetchall()[0]
        return int(row[0]), str(row[1])

    def last_session_time(self, workflow: str, project_id: int = 0) -> str | None:
        row = self._one("SELECT session_time FROM sessions WHERE project_id = ? AND workflow = ?"
                        " ORDER BY last_used DESC LIMIT 1", (project_id, workflow))
        return None if row is None else str(row[0])

    def last_executed_before(self, workflow: str, session_time: datetime,
                             project_id: int = 0) -> datetime | None:
        rows = self._all("SELECT s.session_time FROM sessions s"
                         " WHERE s.project_id = ? AND s.workflow = ?"
                         " AND EXISTS (SELECT 1 FROM attempts a WHERE a.session_id = s.id)",
                         (project_id, workflow))
        best: datetime | None = None
        for (text,) in rows:
            try:
                when = datetime.fromisoformat(text)
                if when < session_time and (best is None or when > best):
                    best = when
            except (ValueError, TypeError):  # not ISO, or naive against aware: not comparable
                continue
        return best

    def find_session(self, workflow: str, session_time: str, project_id: int = 0) -> SessionRecord | None:
        return _maybe(_session, self._one(_SESSION_COLUMNS + " WHERE project_id = ? AND workflow = ?"
                                          " AND session_time = ?", (project_id, workflow, session_time)))

    def get_session(self, session_id: int) -> SessionRecord | None:
        return _maybe(_session, self._one(_SESSION_COLUMNS + " WHERE id = ?", (session_id,)))

    def sessions(self, *, project_id: int | None = None, workflow: str | None = None,
                 last_id: int | None = None, page_size: int = 100) -> list[SessionRecord]:
        where = _Where()
        if project_id is not None:
            where.add("project_id = ?", project_id)
        if workflow is not None:
            where.add("workflow = ?", workflow)
        if last_id is not None:
            where.add("id < ?", last_id)
        rows = self._all(f"{_SESSION_COLUMNS}{where} ORDER BY id DESC LIMIT ?",
                         (*where.params, max(0, page_size)))
        return [_session(r) for r in rows]

    # -- attempts ----------------------------------------------------------------------------
    def start_attempt(self, session_id: int, params: Mapping[str, Any] | None = None, *,
                      retry_attempt_name: str | None = None, workflow_id: int | None = None,
                      unique: bool = False, after_attempt_id: int | None = None) -> int:
        with self._tx() as cur:
            if unique:
                # SQLite: BEGIN IMMEDIATE already serialises writers; PostgreSQL: the session
                # row's lock makes a racing start wait, then see this one's attempt
                self._execute(cur, "SELECT id FROM sessions WHERE id = ?" + self._d.row_lock,
                              (session_id,)).fetchall()
                same = ("retry_attempt_name IS NULL" if retry_attempt_name is None
                        else "retry_attempt_name = ?")
                found = self._execute(
                    cur, f"SELECT id FROM attempts WHERE session_id = ? AND {same}"
                         " ORDER BY id LIMIT 1",
                    (session_id,) if retry_attempt_name is None
                    else (session_id, retry_attempt_name)).fetchall()
                if found:
                    raise AttemptExists(int(found[0][0]))
            row = self._execute(
                cur, "INSERT INTO attempts (session_id, started_at, status, params,"
                     " retry_attempt_name, workflow_id, after_attempt_id)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (session_id, time.time(), AttemptStatus.RUNNING.value, _dumps(dict(params or {})),
                 retry_attempt_name, workflow_id, after_attempt_id)).fetchall()[0]
        return int(row[0])

    def finish_attempt(self, attempt_id: int, status: AttemptStatus | str) -> None:
        status = AttemptStatus(status)
        self.flush()
        self._write("UPDATE attempts SET status = ?, finished_at = ? WHERE id = ?",
                    (status.value, time.time(), attempt_id))

    def get_attempt(self, attempt_id: int) -> AttemptRecord | None:
        return _maybe(_attempt, self._one(_ATTEMPT_COLUMNS + " WHERE a.id = ?", (attempt_id,)))

    def last_attempt(self, session_id: int) -> AttemptRecord | None:
        return _maybe(_attempt, self._one(_ATTEMPT_COLUMNS + " WHERE a.session_id = ?"
                                          " ORDER BY a.id DESC LIMIT 1", (session_id,)))

    def attempts(self, *, session_id: int | None = None, project_id: int | None = None,
                 workflow: str | None = None, include_retried: bool = True,
                 last_id: int | None = None, page_size: int = 100,
                 status: AttemptStatus | None = None) -> list[AttemptRecord]:
        where = _Where()
        if status is not None:
            where.add("a.status = ?", status.value)
        if session_id is not None:
            where.add("a.session_id = ?", session_id)
        if project_id is not None:
            where.add("s.project_id = ?", project_id)
        if workflow is not None:
            where.add("s.workflow = ?", workflow)
        if not include_retried:
            where.add("NOT EXISTS (SELECT 1 FROM attempts n"
                      " WHERE n.session_id = a.session_id AND n.id > a.id)")
        if last_id is not None:
            where.add("a.id < ?", last_id)
        rows = self._all(f"{_ATTEMPT_COLUMNS}{where} ORDER BY a.id DESC LIMIT ?",
                         (*where.params, max(0, page_size)))
        return [_attempt(r) for r in rows]

    def session_attempts(self, session_id: int) -> list[AttemptRecord]:
        rows = self._all(_ATTEMPT_COLUMNS + " WHERE a.session_id = ? ORDER BY a.id", (session_id,))
        return [_attempt(r) for r in rows]

    def request_cancel(self, attempt_id: int) -> None:
        with self._tx() as cur:
            self._execute(cur, "UPDATE attempts SET cancel_requested = TRUE WHERE id = ?",
                          (attempt_id,))
            self._delete_unheld(cur, attempt_id)
        self.notify("cancel")  # the workers running its tasks
        self.notify(f"attempt_{attempt_id}")  # its coordinator

    def _delete_unheld(self, cur: Any, attempt_id: int) -> None:
        self._execute(cur, "DELETE FROM task_queue WHERE attempt_id = ? AND outcome IS NULL"
                           " AND (owner IS NULL OR lease_until <= ?)", (attempt_id, time.time()))

    def lease_attempt(self, attempt_id: int, owner: str, lease_seconds: float) -> bool:
        now = time.time()
        row = self._one("UPDATE attempts SET owner = ?, lease_until = ? WHERE id = ?"
                        " AND (owner IS NULL OR owner = ? OR lease_until <= ?) RETURNING id",
                        (owner, now + lease_seconds, attempt_id, owner, now), write=True)
        return row is not None

    def claim_orphaned_attempt(self, owner: str, lease_seconds: float) -> int | None:
        now = time.time()
        row = self._one(
            "UPDATE attempts SET owner = ?, lease_until = ? WHERE id = (SELECT id FROM attempts"
            " WHERE status = ? AND owner IS NOT NULL AND owner != ? AND lease_until <= ?"
            " ORDER BY id LIMIT 1" + self._d.skip_locked + ") RETURNING id",
            (owner, now + lease_seconds, AttemptStatus.RUNNING.value, owner, now), write=True)
        return None if row is None else int(row[0])

    def release_attempt(self, attempt_id: int, owner: str) -> None:
        self._write("UPDATE attempts SET lease_until = ? WHERE id = ? AND owner = ?",
                    (time.time(), attempt_id, owner))

    def drop_queued(self, attempt_id: int) -> int:
        rows = self._all("DELETE FROM task_queue WHERE attempt_id = ? RETURNING id", (attempt_id,),
                         write=True)
        return len(rows)

    def canceled_attempts(self, attempt_ids: Collection[int]) -> set[int]:
        found: set[int] = set()
        for chunk in _chunks(attempt_ids):
            marks = ", ".join("?" * len(chunk))
            rows = self._all(f"SELECT id FROM attempts WHERE cancel_requested AND id IN ({marks})",
                             chunk)
            found.update(int(r[0]) for r in rows)
        return found

    # -- images ------------------------------------------------------------------------------
    def record_images(self, attempt_id: int, images: Mapping[str, str]) -> None:
        if not images:
            return
        with self._tx() as cur:
            cur.executemany(self._d.sql(
                "INSERT INTO attempt_images (attempt_id, name, id) VALUES (?, ?, ?)"
                " ON CONFLICT (attempt_id, name) DO UPDATE SET id = excluded.id"),
                [(attempt_id, name, image_id) for name, image_id in sorted(images.items())])

    def attempt_images(self, attempt_id: int) -> dict[str, str]:
        rows = self._all("SELECT name, id FROM attempt_images WHERE attempt_id = ? ORDER BY name",
                         (attempt_id,))
        return {str(name): str(image_id) for name, image_id in rows}

    # -- buffered writes ---------------------------------------------------------------------
    def results(self, session_id: int) -> dict[str, dict[str, Any]]:
        self.flush()
        rows = self._all("SELECT full_name, result FROM task_results WHERE session_id = ?",
                         (session_id,))
        return {str(name): json.loads(result) for name, result in rows}

    def clear_results(self, session_id: int) -> None:
        self.flush()
        self._write("DELETE FROM task_results WHERE session_id = ?", (session_id,))

    def save_result(self, session_id: int, name: str, record: Mapping[str, Any]) -> None:
        row = (session_id, name, _dumps(record if isinstance(record, dict) else dict(record)))
        with self._lock:
            self._results[(session_id, name)] = row
            if (len(self._tasks) + len(self._results) >= FLUSH_ENTRIES
                    or time.monotonic() - self._last_flush > FLUSH_SECONDS):
                self.flush()

    def save_task(self, record: TaskRecord) -> None:
        state = getattr(record.state, "value", record.state)
        row = (record.attempt_id, record.name, state, record.retry_count, record.retry_at,
               record.started_at, record.finished_at,
               None if record.result is None else _dumps(record.result),
               None if record.error is None else _dumps(record.error),
               record.task_id, record.parent_id,
               None if record.is_group is None else int(record.is_group),
               None if record.config is None else _dumps(record.config),
               None if record.upstreams is None else _dumps(list(record.upstreams)))
        with self._lock:
            # a dict keeps the first position of a key: the rows go out in first-saved order
            self._tasks[(record.attempt_id, record.name)] = row
            if (len(self._tasks) + len(self._results) >= FLUSH_ENTRIES
                    or time.monotonic() - self._last_flush > FLUSH_SECONDS):
                self.flush()

    def tasks(self, attempt_id: int) -> list[TaskRecord]:
        self.flush()
        rows = self._all("SELECT attempt_id, name, state, retry_count, retry_at, started_at,"
                         " finished_at, result, error, task_id, parent_id, is_group, config,"
                         " upstreams FROM tasks WHERE attempt_id = ? ORDER BY id", (attempt_id,))
        return [TaskRecord(attempt_id=int(r[0]), name=r[1], state=r[2], retry_count=int(r[3]),
                           retry_at=r[4], started_at=r[5], finished_at=r[6],
                           result=_loads(r[7]), error=_loads(r[8]),
                           task_id=None if r[9] is None else int(r[9]),
                           parent_id=None if r[10] is None else int(r[10]),
                           is_group=None if r[11] is None else bool(r[11]), config=_loads(r[12]),
                           upstreams=None if r[13] is None else tuple(_loads(r[13]) or ()))
                for r in rows]

    def flush(self) -> None:
        with self._lock:
            if self._tasks or self._results:
                tasks, results = list(self._tasks.values()), list(self._results.values())
                with self._tx() as cur:
                    if tasks:
                        cur.executemany(self._d.sql(_TASK_UPSERT), tasks)
                    if results:
                        cur.executemany(self._d.sql(_RESULT_UPSERT), results)
                self._tasks, self._results = {}, {}  # only once written: a failed flush keeps them
            self._last_flush = time.monotonic()

    # -- logs --------------------------------------------------------------------------------
    def keep_logs_in(self, folder: Path) -> None:
        """Task logs go to files under `folder` from now on (store/logdir.py); what the
        database holds is still read."""
        self._logs = LogFolder(folder)

    def append_log(self, attempt_id: int, task_name: str, lines: Sequence[str]) -> None:
        if not lines:
            return
        if self._logs is not None:
            self._logs.append(attempt_id, task_name, lines)
            return
        with self._tx() as cur:
            cur.executemany(self._d.sql(
                "INSERT INTO task_logs (attempt_id, task_name, line) VALUES (?, ?, ?)"),
                [(attempt_id, task_name, line) for line in lines])

    def task_log(self, attempt_id: int, task_name: str) -> list[str]:
        if self._logs is not None:
            found = self._logs.lines(attempt_id, task_name)
            if found is not None:
                return found
        rows = self._all("SELECT line FROM task_logs WHERE attempt_id = ? AND task_name = ?"
                         " ORDER BY id", (attempt_id, task_name))
        return [str(r[0]) for r in rows]

    def log_tasks(self, attempt_id: int) -> list[str]:
        rows = self._all("SELECT task_name FROM task_logs WHERE attempt_id = ?"
                         " GROUP BY task_name ORDER BY MIN(id)", (attempt_id,))
        names = [str(r[0]) for r in rows]
        if self._logs is not None:
            known = set(names)
            names += [n for n in self._logs.names(attempt_id) if n not in known]
        return names

    # -- project secrets -----------------------------------------------------------------------
    def put_secret(self, project_id: int, key: str, value: str) -> None:
        self._write("INSERT INTO project_secrets (project_id, key, value, updated_at)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT (project_id, key)"
                    " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                    (project_id, key, value, time.time()))

    def delete_secret(self, project_id: int, key: str) -> bool:
        return self._write("DELETE FROM project_secrets WHERE project_id = ? AND key = ?",
                           (project_id, key)) > 0

    def secret_keys(self, project_id: int) -> list[str]:
        rows = self._all("SELECT key FROM project_secrets WHERE project_id = ? ORDER BY key",
                         (project_id,))
        return [str(r[0]) for r in rows]

    def secret_values(self, project_id: int) -> dict[str, str]:
        rows = self._all("SELECT key, value FROM project_secrets WHERE project_id = ?",
                         (project_id,))
        return {str(k): str(v) for k, v in rows}

    # -- the param store -------------------------------------------------------------------------
    def param_set(self, values: Mapping[str, str]) -> None:
        now = time.time()
        with self._tx() as cur:
            cur.executemany(self._d.sql(
                "INSERT INTO params (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key)"
                " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"),
                [(str(k), str(v), now) for k, v in values.items()])

    def param_get(self, key: str, max_age_seconds: float) -> str | None:
        row = self._one("SELECT value FROM params WHERE key = ? AND updated_at >= ?",
                        (key, time.time() - max_age_seconds))
        return None if row is None else str(row[0])

    # -- schedules -------------------------------------------------------------------------------
    def schedules(self, *, project_id: int | None = None, workflow: str | None = None,
                  last_id: int = 0, count: int = 100) -> list[ScheduleRecord]:
        where = _Where()
        where.add("c.id > ?", last_id)
        if project_id is not None:
            where.add("c.project_id = ?", project_id)
        if workflow is not None:
            where.add("c.workflow = ?", workflow)
        rows = self._all(f"{_SCHEDULE_COLUMNS}{where} ORDER BY c.id LIMIT ?",
                         (*where.params, max(0, count)))
        return [_schedule(r) for r in rows]

    def get_schedule(self, schedule_id: int) -> ScheduleRecord | None:
        return _maybe(_schedule, self._one(_SCHEDULE_COLUMNS + " WHERE c.id = ?", (schedule_id,)))

    def update_schedule(self, schedule_id: int, *, next_run_time: float | None = None,
                        next_schedule_time: str | None = None,
                        disabled: bool | None = None) -> ScheduleRecord | None:
        sets: list[str] = ["updated_at = ?"]
        now = time.time()
        params: list[Any] = [now]
        if next_run_time is not None:
            sets.append("next_run_time = ?")
            params.append(next_run_time)
        if next_schedule_time is not None:
            sets.append("next_schedule_time = ?")
            params.append(next_schedule_time)
        if disabled is True:
            sets.append("disabled_at = COALESCE(disabled_at, ?)")
            params.append(now)
        elif disabled is False:
            sets.append("disabled_at = NULL")
        self._write(f"UPDATE schedules SET {', '.join(sets)} WHERE id = ?", (*params, schedule_id))
        self.notify("schedules")
        return self.get_schedule(schedule_id)

    def next_schedule_run(self) -> float | None:
        row = self._one("SELECT MIN(c.next_run_time) FROM schedules c JOIN projects p"
                        " ON p.id = c.project_id AND p.deleted_at IS NULL"
                        " WHERE c.disabled_at IS NULL")
        return None if row is None or row[0] is None else float(row[0])

    def fire_schedule(self, now: float,
                      decide: Callable[[ScheduleRecord, bool], ScheduleFiring],
                      owner: str, lease_seconds: float) -> tuple[ScheduleRecord, int | None] | None:
        with self._tx() as cur:
            rows = self._execute(
                cur, "SELECT c.id, c.project_id, c.workflow, c.workflow_id, c.config,"
                     " c.next_run_time, c.next_schedule_time, c.disabled_at, c.created_at,"
                     " c.updated_at FROM schedules c WHERE c.disabled_at IS NULL"
                     " AND c.next_run_time <= ? AND EXISTS (SELECT 1 FROM projects p"
                     " WHERE p.id = c.project_id AND p.deleted_at IS NULL)"
                     " ORDER BY c.next_run_time, c.id LIMIT 1" + self._d.skip_locked,
                (now,)).fetchall()
            if not rows:
                return None
            schedule = _schedule(rows[0])
            active = bool(self._execute(
                cur, "SELECT 1 FROM attempts a JOIN sessions s ON s.id = a.session_id"
                     " WHERE s.project_id = ? AND s.workflow = ? AND a.status = ? LIMIT 1",
                (schedule.project_id, schedule.workflow, AttemptStatus.RUNNING.value)).fetchall())
            firing = decide(schedule, active)
            attempt_id: int | None = None
            if firing.start:
                session_id, _ = self._upsert_session(cur, schedule.project_id, schedule.workflow,
                                                     schedule.next_schedule_time, str(uuid.uuid4()))
                if not self._execute(cur, "SELECT 1 FROM attempts WHERE session_id = ?"
                                          " AND retry_attempt_name IS NULL", (session_id,)).fetchall():
                    attempt_id = int(self._execute(
                        cur, "INSERT INTO attempts (session_id, started_at, status, params,"
                             " workflow_id, owner, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?)"
                             " RETURNING id",
                        (session_id, time.time(), AttemptStatus.RUNNING.value, "{}",
                         schedule.workflow_id, owner, time.time() + lease_seconds)).fetchall()[0][0])
            self._execute(cur, "UPDATE schedules SET next_run_time = ?, next_schedule_time = ?"
                               " WHERE id = ?",
                          (firing.next_run_time, firing.next_schedule_time, schedule.id))
        return schedule, attempt_id

    # -- archives ----------------------------------------------------------------------------
    def put_archive(self, data: bytes) -> str:
        data = bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        if self._one("SELECT 1 FROM archives WHERE digest = ?", (digest,)) is None:
            self._write("INSERT INTO archives (digest, data, size, created_at) VALUES (?, ?, ?, ?)"
                        " ON CONFLICT (digest) DO NOTHING", (digest, data, len(data), time.time()))
        return digest

    def get_archive(self, digest: str) -> bytes | None:
        row = self._one("SELECT data FROM archives WHERE digest = ?", (digest,))
        return None if row is None else bytes(row[0])

    # -- projects, revisions, workflow definitions ---------------------------------------------
    def put_revision(self, project: str, revision: str, archive: bytes,
                     workflows: Sequence[tuple[str, str, Mapping[str, Any]]],
                     user_info: Mapping[str, Any] | None = None,
                     schedules: Sequence[ScheduleSpec] = (),
                     restart_schedules: Collection[str] = ()) -> tuple[ProjectRecord, RevisionRecord]:
        data = bytes(archive)
        digest = hashlib.sha256(data).hexdigest()
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")
        definitions = [(str(name), str(timezone), _dumps(dict(config)))
                       for name, timezone, config in workflows]
        names = [d[0] for d in definitions]
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"workflows named twice in revision {revision!r}: {', '.join(twice)}")
        info = _dumps(dict(user_info or {}))
        now = time.time()
        with self._tx() as cur:
            # get or make the live project; PostgreSQL: its row stays locked until the commit,
            # so pushes to one project are serialised
            row = self._execute(
                cur, "INSERT INTO projects (name, created_at, updated_at) VALUES (?, ?, ?)"
                     " ON CONFLICT (name) WHERE deleted_at IS NULL"
                     " DO UPDATE SET name = excluded.name RETURNING id",
                (project, now, now)).fetchall()[0]
            project_id = int(row[0])
            now = time.time()  # once the project is ours: revisions are created in order
            if self._execute(cur, "SELECT 1 FROM revisions WHERE project_id = ? AND name = ?",
                             (project_id, revision)).fetchall():
                raise RevisionExists(project, revision)  # rolled back: nothing stored
            if not self._execute(cur, "SELECT 1 FROM archives WHERE digest = ?",
                                 (digest,)).fetchall():
                self._execute(cur, "INSERT INTO archives (digest, data, size, created_at)"
                                   " VALUES (?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING",
                              (digest, data, len(data), now))
            row = self._execute(
                cur, "INSERT INTO revisions (project_id, name, created_at, archive_digest,"
                     " archive_md5, user_info) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (project_id, revision, now, digest, md5, info)).fetchall()[0]
            revision_id = int(row[0])
            if definitions:
                cur.executemany(self._d.sql(
                    "INSERT INTO workflow_definitions (project_id, revision_id, name, timezone,"
                    " config) VALUES (?, ?, ?, ?, ?)"),
                    [(project_id, revision_id, *d) for d in definitions])
            self._sync_schedules(cur, project_id, revision_id, schedules, set(restart_schedules), now)
            row = self._execute(
                cur, "UPDATE projects SET updated_at = ?, latest_revision_id = ? WHERE id = ?"
                     " RETURNING id, name, created_at, deleted_at, updated_at",
                (now, revision_id, project_id)).fetchall()[0]
        self.notify("schedules")  # the schedulers wake to the project's new times
        return _project(row), RevisionRecord(
            id=revision_id, project_id=project_id, name=revision, created_at=now,
            archive_digest=digest, archive_md5=md5, user_info=json.loads(info))

    def _sync_schedules(self, cur: Any, project_id: int, revision_id: int,
                        specs: Sequence[ScheduleSpec], restart: set[str], now: float) -> None:
        ids = {name: int(i) for i, name in self._execute(
            cur, "SELECT id, name FROM workflow_definitions WHERE revision_id = ?",
            (revision_id,)).fetchall()}
        old = {row[1]: (int(row[0]), row[2]) for row in self._execute(
            cur, "SELECT id, workflow, config FROM schedules WHERE project_id = ?",
            (project_id,)).fetchall()}
        wanted = {spec.workflow: spec for spec in specs}
        for name, (schedule_id, _) in old.items():
            if name not in wanted:
                self._execute(cur, "DELETE FROM schedules WHERE id = ?", (schedule_id,))
        for name, spec in wanted.items():
            if name not in ids:
                raise ValueError(f"a schedule for {name!r}, which is not a workflow of the revision")
            config = _dumps(dict(spec.config))
            if name not in old:
                self._execute(cur, "INSERT INTO schedules (project_id, workflow, workflow_id, config,"
                                   " next_run_time, next_schedule_time, created_at, updated_at)"
                                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                              (project_id, name, ids[name], config, spec.next_run_time,
                               spec.next_schedule_time, now, now))
            elif old[name][1] == config and name not in restart:
                self._execute(cur, "UPDATE schedules SET workflow_id = ?, updated_at = ? WHERE id = ?",
                              (ids[name], now, old[name][0]))
            else:
                self._execute(cur, "UPDATE schedules SET workflow_id = ?, config = ?, next_run_time = ?,"
                                   " next_schedule_time = ?, updated_at = ? WHERE id = ?",
                              (ids[name], config, spec.next_run_time, spec.next_schedule_time, now,
                               old[name][0]))

    def project(self, project_id: int) -> ProjectRecord | None:
        return _maybe(_project, self._one(_PROJECT_COLUMNS + " WHERE id = ?", (project_id,)))

    def live_project(self, name: str) -> ProjectRecord | None:
        return _maybe(_project, self._one(_PROJECT_COLUMNS + " WHERE name = ?"
                                          " AND deleted_at IS NULL", (name,)))

    def projects(self, *, last_id: int = 0, count: int = 100,
                 name_pattern: str | None = None) -> list[ProjectRecord]:
        where = _Where()
        where.add("deleted_at IS NULL")
        where.add("id > ?", last_id)
        if name_pattern:
            where.add(f"{self._d.position}(name, ?) > 0", name_pattern)
        rows = self._all(f"{_PROJECT_COLUMNS}{where} ORDER BY id LIMIT ?",
                         (*where.params, max(0, count)))
        return [_project(r) for r in rows]

    def delete_project(self, project_id: int) -> ProjectRecord | None:
        with self._tx() as cur:
            self._execute(cur, "UPDATE projects SET deleted_at = ? WHERE id = ?"
                               " AND deleted_at IS NULL", (time.time(), project_id))
            self._execute(cur, "DELETE FROM schedules WHERE project_id = ?", (project_id,))
            rows = self._execute(cur, _PROJECT_COLUMNS + " WHERE id = ?", (project_id,)).fetchall()
        self.notify("schedules")
        return _project(rows[0]) if rows else None

    def revisions(self, project_id: int, name: str | None = None) -> list[RevisionRecord]:
        where = _Where()
        where.add("project_id = ?", project_id)
        if name is not None:
            where.add("name = ?", name)
        rows = self._all(f"{_REVISION_COLUMNS}{where} ORDER BY id DESC", where.params)
        return [_revision(r) for r in rows]

    def revision(self, project_id: int, name: str | None = None) -> RevisionRecord | None:
        if name is None:
            return _maybe(_revision, self._one(_REVISION_COLUMNS + " WHERE project_id = ?"
                                               " ORDER BY id DESC LIMIT 1", (project_id,)))
        return _maybe(_revision, self._one(_REVISION_COLUMNS + " WHERE project_id = ?"
                                           " AND name = ?", (project_id, name)))

    def workflows_of(self, revision_id: int, name: str | None = None) -> list[WorkflowRecord]:
        where = _Where()
        where.add("w.revision_id = ?", revision_id)
        if name is not None:
            where.add("w.name = ?", name)
        rows = self._all(f"{_WORKFLOW_COLUMNS}{where} ORDER BY w.id", where.params)
        return [_workflow(r) for r in rows]

    def workflow_definition(self, workflow_id: int) -> WorkflowRecord | None:
        return _maybe(_workflow, self._one(_WORKFLOW_COLUMNS + " WHERE w.id = ?", (workflow_id,)))

    def latest_workflows(self, *, last_id: int = 0, count: int = 100, descending: bool = False,
                         name_pattern: str | None = None,
                         search_project_name: bool = False) -> list[WorkflowRecord]:
        where = _Where()
        if descending:
            if last_id:
                where.add("w.id < ?", last_id)
        else:
            where.add("w.id > ?", last_id)
        if name_pattern:
            position = self._d.position
            if search_project_name:
                where.add(f"({position}(w.name, ?) > 0 OR {position}(p.name, ?) > 0)",
                          name_pattern, name_pattern)
            else:
                where.add(f"{position}(w.name, ?) > 0", name_pattern)
        rows = self._all(
            f"{_WORKFLOW_COLUMNS} JOIN projects p ON p.latest_revision_id = w.revision_id"
            f" AND p.deleted_at IS NULL{where} ORDER BY w.id {'DESC' if descending else 'ASC'}"
            " LIMIT ?", (*where.params, max(0, count)))
        return [_workflow(r) for r in rows]

    # -- the task queue ----------------------------------------------------------------------
    def enqueue(self, attempt_id: int, task_name: str, request: Mapping[str, Any]) -> int:
        row = self._one("INSERT INTO task_queue (attempt_id, task_name, request, created_at)"
                        " VALUES (?, ?, ?, ?) RETURNING id",
                        (attempt_id, task_name, _dumps(dict(request)), time.time()), write=True)
        self.notify("queue")
        return int(row[0])

    def claim(self, owner: str, lease_seconds: float) -> Claim | None:
        now = time.time()
        row = self._one(
            "UPDATE task_queue SET owner = ?, lease_until = ?,"
            " retry_count = retry_count + CASE WHEN owner IS NULL THEN 0 ELSE 1 END"
            " WHERE id = (SELECT q.id FROM task_queue q JOIN attempts a ON a.id = q.attempt_id"
            " WHERE q.outcome IS NULL AND (q.owner IS NULL OR q.lease_until <= ?)"
            " AND NOT a.cancel_requested"
            # an attempt whose coordinator's lease expired waits for its new coordinator,
            # which starts its requests over: running them now would run them twice
            " AND (a.owner IS NULL OR a.lease_until > ?)"
            " ORDER BY q.id LIMIT 1" + self._d.claim_lock + ")"
            " RETURNING id, attempt_id, task_name, request, retry_count",
            (owner, now + lease_seconds, now, now), write=True)
        if row is None:
            return None
        return Claim(queue_id=int(row[0]), attempt_id=int(row[1]), task_name=row[2],
                     request=json.loads(row[3]), retry_count=int(row[4]))

    def heartbeat(self, owner: str, queue_ids: Collection[int], lease_seconds: float) -> set[int]:
        held: set[int] = set()
        until = time.time() + lease_seconds
        for chunk in _chunks(queue_ids):
            marks = ", ".join("?" * len(chunk))
            rows = self._all(f"UPDATE task_queue SET lease_until = ? WHERE owner = ?"
                             f" AND outcome IS NULL AND id IN ({marks}) RETURNING id",
                             (until, owner, *chunk), write=True)
            held.update(int(r[0]) for r in rows)
        return held

    def complete(self, queue_id: int, owner: str, outcome: Mapping[str, Any]) -> bool:
        row = self._one("UPDATE task_queue SET outcome = ?, completed_at = ?, lease_until = NULL"
                        " WHERE id = ? AND owner = ? AND outcome IS NULL RETURNING attempt_id",
                        (_dumps(dict(outcome)), time.time(), queue_id, owner), write=True)
        if row is None:
            return False
        self.notify(f"attempt_{int(row[0])}")
        return True

    def release(self, queue_id: int, owner: str) -> None:
        with self._tx() as cur:
            changed = self._execute(
                cur, "UPDATE task_queue SET owner = NULL, lease_until = NULL"
                     " WHERE id = ? AND owner = ? AND outcome IS NULL", (queue_id, owner)).rowcount
            # a canceled attempt's row nobody holds any more is gone (as request_cancel does)
            self._execute(cur, "DELETE FROM task_queue WHERE id = ? AND owner IS NULL"
                               " AND outcome IS NULL AND attempt_id IN"
                               " (SELECT id FROM attempts WHERE cancel_requested)", (queue_id,))
        if changed:
            self.notify("queue")

    def take_outcomes(self, attempt_id: int) -> list[QueuedOutcome]:
        rows = self._all("DELETE FROM task_queue WHERE attempt_id = ? AND outcome IS NOT NULL"
                         " RETURNING id, attempt_id, task_name, outcome, retry_count, completed_at",
                         (attempt_id,), write=True)
        rows.sort(key=lambda r: (r[5], r[0]))
        return [QueuedOutcome(queue_id=int(r[0]), attempt_id=int(r[1]), task_name=r[2],
                              outcome=json.loads(r[3]), retry_count=int(r[4])) for r in rows]

    def queued(self, attempt_id: int) -> int:
        row = self._one("SELECT (SELECT cancel_requested FROM attempts WHERE id = ?), COUNT(*)"
                        " FROM task_queue WHERE attempt_id = ? AND outcome IS NULL",
                        (attempt_id, attempt_id))
        if row[0] and row[1]:
            # canceled: rows whose worker vanished (lease expired) will never get an outcome
            with self._tx() as cur:
                self._delete_unheld(cur, attempt_id)
                row = self._execute(cur, "SELECT NULL, COUNT(*) FROM task_queue"
                                         " WHERE attempt_id = ? AND outcome IS NULL",
                                    (attempt_id,)).fetchone()
        return int(row[1])

    def next_lease_expiry(self) -> float | None:
        # rows of attempts waiting for a new coordinator are nobody's to take (see claim)
        row = self._one("SELECT MIN(q.lease_until) FROM task_queue q"
                        " JOIN attempts a ON a.id = q.attempt_id"
                        " WHERE q.outcome IS NULL AND q.lease_until IS NOT NULL"
                        " AND NOT a.cancel_requested AND (a.owner IS NULL OR a.lease_until > ?)",
                        (time.time(),))
        return None if row is None or row[0] is None else float(row[0])

    # -- notifications -----------------------------------------------------------------------
    def listen(self, *channels: str) -> Listener:
        for channel in channels:
            check_channel(channel)
        return self._d.listen(channels)

    def notify(self, channel: str) -> None:
        check_channel(channel)

        def execute(sql: str, params: tuple[Any, ...]) -> None:
            with self._tx() as cur:
                self._execute(cur, sql, params)

        self._d.notify(channel, execute)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                self.flush()
            finally:
                self._closed = True
                self._d.close()


def sqlite_path(url: str) -> Path:
    """The file of a `sqlite:///abs/path.db` URL."""
    rest = url[len("sqlite://"):]
    if not rest.startswith("/"):
        raise UserInputError(f"bad store URL {url!r}: a SQLite URL names an absolute path,"
                             " sqlite:///abs/path.db")
    return Path("/" + rest.lstrip("/"))


def describe_pg_target(url: str) -> str:
    """host:port/database of a PostgreSQL URL, for messages (never the password)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(url)
    except Exception:  # noqa: BLE001 - a URL libpq cannot parse: say so in the message
        return "(an unparsable URL)"
    host = str(info.get("host") or os.environ.get("PGHOST") or "localhost")
    port = str(info.get("port") or os.environ.get("PGPORT") or "5432")
    database = info.get("dbname") or os.environ.get("PGDATABASE")
    return f"{host}:{port}" + (f"/{database}" if database else "")
