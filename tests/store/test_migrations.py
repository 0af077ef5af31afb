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
from dockerflow.store import AttemptStatus, TaskRecord, open_store
from dockerflow.store.migrations import LATEST, STEPS

T0 = "2024-01-01T00:00:00+00:00"


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
        assert [v for v, _ in versions(path)] == [1, 2]
        session = store.open_session("wf", T0, "new-uuid")
        assert (session.id, session.uuid) == (1, "old-uuid")
        assert store.last_session_time("wf") == T0
        first = store.get_attempt(1)
        assert first is not None
        assert (first.status, first.started_at, first.finished_at) == (AttemptStatus.ERROR, 10.0, 20.0)
        assert first.params == {} and not first.cancel_requested
        last = store.last_attempt(1)
        assert last is not None and last.id == 2 and last.status is AttemptStatus.RUNNING
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
    assert [v for v, _ in versions(path)] == [1, 2]


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
    assert [v for v, _ in versions(path)] == [1, 2]


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
    assert pg_versions() == [1, 2]
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
    assert pg_versions() == [1, 2]
