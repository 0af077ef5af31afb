"""The versioned schema: the previous release's state.db is adopted as version 1 and migrated
with its data; a newer database is refused; opening again changes nothing; concurrent opens
are safe."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dockerflow.errors import UserInputError
from dockerflow.store import AttemptStatus, SessionRecord, TaskRecord, open_store
from dockerflow.store.migrations import LATEST, STEPS

T0 = "2024-01-01T00:00:00+00:00"
ALL = [step.version for step in STEPS]


def legacy_state_db(folder: Path) -> Path:
    """A state.db as the previous release left it: its schema (version 1), rows, no
    migrations table."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "state.db"
    db = sqlite3.connect(path)
    for statement in STEPS[0].statements("sqlite"):
        db.execute(statement)
    with db:
        db.execute("INSERT INTO sessions (id, workflow, session_time, session_uuid, last_used)"
                   " VALUES (1, 'wf', ?, 'old-uuid', 100.0), (2, 'wf', '2024-01-02T00:00:00+00:00',"
                   " 'uuid-2', 50.0)", (T0,))
        db.execute("INSERT INTO attempts (id, session_id, started_at, finished_at, status)"
                   " VALUES (1, 1, 10.0, 20.0, 'error'), (2, 1, 30.0, NULL, 'running')")
        db.execute("INSERT INTO task_results (session_id, full_name, result)"
                   " VALUES (1, '+wf+a', '{\"state\": \"success\", \"store\": {\"x\": 1}}')")
        db.execute("INSERT INTO attempt_images (attempt_id, name, id)"
                   " VALUES (1, 'python:3.11', 'sha256:abc')")
    db.close()
    return path


def versions(path: Path) -> list[tuple[int, float]]:
    db = sqlite3.connect(path)
    try:
        return [(int(v), float(t)) for v, t in
                db.execute("SELECT version, applied_at FROM schema_migrations ORDER BY version")]
    finally:
        db.close()


def test_the_previous_release_state_db_is_migrated_with_its_data(tmp_path: Path) -> None:
    path = legacy_state_db(tmp_path / ".dockerflow")
    store = open_store(str(path))
    try:
        assert [v for v, _ in versions(path)] == ALL
        session = store.open_session("wf", T0, "new-uuid")
        assert (session.id, session.uuid) == (1, "old-uuid")
        assert store.last_session_time("wf") == T0
        first = store.get_attempt(1)
        assert first is not None
        assert (first.status, first.started_at, first.finished_at) == (AttemptStatus.ERROR, 10.0, 20.0)
        assert first.params == {} and not first.cancel_requested
        last = store.last_attempt(1)
        assert last is not None and last.id == 2 and last.status is AttemptStatus.RUNNING
        assert (last.index, last.project_id, last.retry_attempt_name, last.workflow_id) == (2, 0, None, None)
        assert store.get_session(2) == SessionRecord(2, "wf", "2024-01-02T00:00:00+00:00", "uuid-2", 0)
        assert store.results(1) == {"+wf+a": {"state": "success", "store": {"x": 1}}}
        assert store.attempt_images(1) == {"python:3.11": "sha256:abc"}
        # and what version 2 added works on it
        attempt_id = store.start_attempt(1, {"p": 1})
        assert attempt_id == 3
        store.save_task(TaskRecord(attempt_id, "+wf+a", "success"))
        store.enqueue(attempt_id, "+wf+a", {})
        claim = store.claim("w", 30)
        assert claim is not None and store.complete(claim.queue_id, "w", {})
        store.append_log(attempt_id, "+wf+a", ["hello"])
        store.finish_attempt(attempt_id, AttemptStatus.SUCCESS)
        assert [t.name for t in store.tasks(attempt_id)] == ["+wf+a"]
    finally:
        store.close()


def test_a_state_db_from_before_the_image_lock_gets_the_missing_table(tmp_path: Path) -> None:
    """Early releases made sessions, attempts and task_results only."""
    path = tmp_path / "state.db"
    db = sqlite3.connect(path)
    for statement in STEPS[0].statements("sqlite"):
        if "attempt_images" not in statement:
            db.execute(statement)
    db.execute("INSERT INTO sessions (workflow, session_time, session_uuid, last_used)"
               " VALUES ('wf', ?, 'u', 1.0)", (T0,))
    db.commit()
    db.close()
    store = open_store(str(path))
    try:
        attempt_id = store.start_attempt(1)
        store.record_images(attempt_id, {"a:1": "sha256:1"})
        assert store.attempt_images(attempt_id) == {"a:1": "sha256:1"}
    finally:
        store.close()


def sqlite_schema(path: Path) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(path)
    try:
        return sorted(db.execute("SELECT type, name, sql FROM sqlite_master"
                                 " WHERE name != 'schema_migrations'"))
    finally:
        db.close()


def test_a_fresh_database_and_a_migrated_one_have_the_same_schema(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh" / "state.db"
    open_store(str(fresh)).close()
    migrated = legacy_state_db(tmp_path / "old")
    open_store(str(migrated)).close()
    assert sqlite_schema(fresh) == sqlite_schema(migrated)
    assert [v for v, _ in versions(fresh)] == [s.version for s in STEPS]


def test_opening_twice_changes_nothing(tmp_path: Path) -> None:
    path = legacy_state_db(tmp_path)
    open_store(str(path)).close()
    before = (versions(path), sqlite_schema(path))
    open_store(str(path)).close()
    assert (versions(path), sqlite_schema(path)) == before


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    open_store(str(path)).close()
    db = sqlite3.connect(path)
    with db:
        db.execute("INSERT INTO schema_migrations (version, applied_at, summary)"
                   " VALUES (?, 0, 'from the future')", (LATEST + 7,))
    db.close()
    with pytest.raises(UserInputError) as info:
        open_store(str(path))
    assert str(path) in str(info.value)
    assert (f"was written by a newer dockerflow (schema version {LATEST + 7},"
            f" this one knows up to {LATEST})") in str(info.value)


def test_a_failed_step_leaves_the_database_as_it_was(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from dockerflow.store import migrations

    path = legacy_state_db(tmp_path)
    broken = migrations.Step(2, "broken", STEPS[1].sqlite + ("THIS IS NOT SQL",), ())
    monkeypatch.setattr(migrations, "STEPS", (STEPS[0], broken))
    with pytest.raises(UserInputError):
        open_store(str(path))
    db = sqlite3.connect(path)
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        db.close()
    assert "tasks" not in tables and "schema_migrations" not in tables
    monkeypatch.undo()
    open_store(str(path)).close()
    assert [v for v, _ in versions(path)] == ALL


def concurrent_opens(url: str, n: int = 6) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def opener() -> None:
        try:
            start.wait()
            store = open_store(url)
            store.open_session("wf", T0, "u")
            store.close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_concurrent_opens_of_a_new_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    concurrent_opens(str(path))
    assert [v for v, _ in versions(path)] == ALL


# -- from version 2 (what `dockerflow run` wrote before projects) --------------------------------
V2_ROWS = (
    "INSERT INTO sessions (id, workflow, session_time, session_uuid, last_used)"
    " VALUES (1, 'wf', '2024-01-01T00:00:00+00:00', 'uuid-1', 100.0),"
    " (5, 'wf', '2024-01-02T00:00:00+00:00', 'uuid-5', 50.0),"
    " (7, 'other', '2024-01-01T00:00:00+00:00', 'uuid-7', 10.0)",
    "INSERT INTO attempts (id, session_id, started_at, finished_at, status, params, cancel_requested)"
    " VALUES (1, 1, 10.0, 20.0, 'error', '{\"p\": 1}', {false}),"
    " (2, 1, 30.0, 40.0, 'success', '{}', {true}), (3, 5, 50.0, NULL, 'running', '{}', {false})",
    "INSERT INTO task_results (session_id, full_name, result) VALUES (1, '+wf+a', '{\"n\": 1}')",
    "INSERT INTO attempt_images (attempt_id, name, id) VALUES (1, 'python:3.11', 'sha256:abc')",
    "INSERT INTO tasks (attempt_id, name, state, retry_count) VALUES (2, '+wf+a', 'success', 1)",
    "INSERT INTO task_logs (attempt_id, task_name, line) VALUES (2, '+wf+a', 'hello')",
    "INSERT INTO task_queue (attempt_id, task_name, request, created_at) VALUES (3, '+wf+b', '{}', 1.0)",
)


def v2_statements(dialect: str) -> list[str]:
    """A version 2 database with rows, statement by statement."""
    real, false, true = ("REAL", "0", "1") if dialect == "sqlite" else ("DOUBLE PRECISION", "FALSE", "TRUE")
    statements = [s for step in STEPS[:2] for s in step.statements(dialect)]
    statements.append(f"CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                      f" applied_at {real} NOT NULL, summary TEXT NOT NULL)")
    statements.append("INSERT INTO schema_migrations (version, applied_at, summary)"
                      " VALUES (1, 1.0, 'one'), (2, 2.0, 'two')")
    statements += [row.replace("{false}", false).replace("{true}", true) for row in V2_ROWS]
    return statements


def check_v2_data_migrated(url: str) -> None:
    store = open_store(url)
    try:
        assert store.get_session(5) == SessionRecord(5, "wf", "2024-01-02T00:00:00+00:00", "uuid-5", 0)
        session = store.open_session("wf", T0, "new-uuid")
        assert (session.id, session.uuid, session.project_id) == (1, "uuid-1", 0)
        assert store.last_session_time("wf") == T0
        assert [s.id for s in store.sessions()] == [7, 5, 1]
        first, second = store.session_attempts(1)
        assert (first.id, first.index, first.status, first.params, first.cancel_requested) == (
            1, 1, AttemptStatus.ERROR, {"p": 1}, False)
        assert (second.id, second.index, second.cancel_requested, second.finished_at) == (2, 2, True, 40.0)
        assert (first.retry_attempt_name, first.workflow_id, first.project_id) == (None, None, 0)
        assert [a.id for a in store.attempts(include_retried=False)] == [3, 2]
        assert store.results(1) == {"+wf+a": {"n": 1}}
        assert store.attempt_images(1) == {"python:3.11": "sha256:abc"}
        assert [(t.name, t.retry_count) for t in store.tasks(2)] == [("+wf+a", 1)]
        assert store.task_log(2, "+wf+a") == ["hello"]
        claim = store.claim("w", 30)
        assert claim is not None and (claim.attempt_id, claim.task_name) == (3, "+wf+b")
        # the new key: the same workflow and time in a project is another session
        project, _ = store.put_revision("proj", "r1", b"tgz", [("wf", "UTC", {})])
        pushed = store.open_session("wf", T0, "pushed", project_id=project.id)
        assert pushed.id > 7 and pushed.uuid == "pushed"  # after the kept ids
        assert store.open_session("wf", T0, "again").id == 1
        assert store.start_attempt(1) == 4
    finally:
        store.close()


def v2_state_db(path: Path) -> Path:
    db = sqlite3.connect(path)
    for statement in v2_statements("sqlite"):
        db.execute(statement)
    db.commit()
    db.close()
    return path


def test_a_version_2_sqlite_database_is_migrated_with_its_data(tmp_path: Path) -> None:
    path = v2_state_db(tmp_path / "state.db")
    check_v2_data_migrated(str(path))
    assert [v for v, _ in versions(path)] == ALL
    fresh = tmp_path / "fresh.db"
    open_store(str(fresh)).close()
    assert sqlite_schema(path) == sqlite_schema(fresh)
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert "sessions_v3" not in {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    finally:
        db.close()


def test_a_failed_version_3_leaves_the_version_2_database_as_it_was(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dockerflow.store import migrations

    path = v2_state_db(tmp_path / "state.db")
    before = sqlite_schema(path)
    broken = migrations.Step(3, "broken", STEPS[2].sqlite + ("THIS IS NOT SQL",), ())
    monkeypatch.setattr(migrations, "STEPS", (*STEPS[:2], broken))
    monkeypatch.setattr(migrations, "LATEST", 3)
    with pytest.raises(UserInputError):
        open_store(str(path))
    assert sqlite_schema(path) == before
    assert [v for v, _ in versions(path)] == [1, 2]
    monkeypatch.undo()
    check_v2_data_migrated(str(path))


# -- PostgreSQL ----------------------------------------------------------------------------------
def pg(url: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement, params)
        return list(cur.fetchall()) if cur.description else []


@pytest.fixture
def pg_versions(pg_url: str) -> Callable[[], list[int]]:
    return lambda: [int(r[0]) for r in pg(pg_url, "SELECT version FROM schema_migrations ORDER BY 1")]


def test_postgres_is_migrated_once(pg_url: str, pg_versions: Callable[[], list[int]]) -> None:
    open_store(pg_url).close()
    assert pg_versions() == ALL
    applied = pg(pg_url, "SELECT applied_at FROM schema_migrations ORDER BY version")
    open_store(pg_url).close()
    assert pg(pg_url, "SELECT applied_at FROM schema_migrations ORDER BY version") == applied


def test_a_newer_postgres_database_is_refused(pg_url: str) -> None:
    open_store(pg_url).close()
    pg(pg_url, "INSERT INTO schema_migrations (version, applied_at, summary) VALUES (%s, 0, 'x')",
       (LATEST + 1,))
    with pytest.raises(UserInputError) as info:
        open_store(pg_url)
    assert (f"was written by a newer dockerflow (schema version {LATEST + 1},"
            f" this one knows up to {LATEST})") in str(info.value)


def test_concurrent_opens_of_a_new_postgres_database(pg_url: str,
                                                     pg_versions: Callable[[], list[int]]) -> None:
    concurrent_opens(pg_url)
    assert pg_versions() == ALL


def pg_schema(url: str) -> list[tuple[Any, ...]]:
    """Columns, constraints and indexes of the public tables but schema_migrations."""
    columns = pg(url, "SELECT table_name, column_name, data_type, is_nullable, column_default"
                      " FROM information_schema.columns WHERE table_schema = 'public'"
                      " AND table_name != 'schema_migrations'")
    constraints = pg(url, "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
                          " FROM pg_constraint WHERE connamespace = 'public'::regnamespace")
    indexes = pg(url, "SELECT tablename, indexname, indexdef FROM pg_indexes"
                      " WHERE schemaname = 'public' AND tablename != 'schema_migrations'")
    return sorted(map(tuple, [*columns, *constraints, *indexes]), key=repr)


def test_a_version_2_postgres_database_is_migrated_with_its_data(
        pg_url: str, pg_server: Any, pg_versions: Callable[[], list[int]]) -> None:
    for statement in v2_statements("postgresql"):
        pg(pg_url, statement)
    # ids given by hand: the identities go on after them, as they do in a real version 2 database
    for table in ("sessions", "attempts"):
        pg(pg_url, f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
    check_v2_data_migrated(pg_url)
    assert pg_versions() == ALL
    fresh = pg_server.create_database()
    try:
        open_store(fresh).close()
        assert pg_schema(pg_url) == pg_schema(fresh)
    finally:
        pg_server.drop_database(fresh.rsplit("/", 1)[1])
