"""Local-mode state in `<project>/.dockerflow/state.db` (SQLite): sessions and task results.

Results of succeeded tasks are buffered and written in batches (one transaction per flush),
so a run of 50,000 tasks does not pay one commit per task; the runner flushes whenever it is
about to wait for a running task.
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    workflow TEXT NOT NULL,
    session_time TEXT NOT NULL,
    session_uuid TEXT NOT NULL,
    last_used REAL NOT NULL,
    UNIQUE (workflow, session_time)
);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    started_at REAL NOT NULL,
    finished_at REAL,
    status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS task_results (
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    full_name TEXT NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (session_id, full_name)
);
CREATE TABLE IF NOT EXISTS attempt_images (
    attempt_id INTEGER NOT NULL REFERENCES attempts(id),
    name TEXT NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (attempt_id, name)
);
"""


class LocalStore:
    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(state_dir / "state.db", check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self.pending: list[tuple[int, str, str]] = []
        self.last_flush = time.monotonic()

    def close(self) -> None:
        self.flush()
        self.db.close()

    # -- sessions ----------------------------------------------------------------------------
    def open_session(self, workflow: str, session_time: str, new_uuid: str) -> tuple[int, str]:
        with self.db:
            self.db.execute(
                "INSERT INTO sessions (workflow, session_time, session_uuid, last_used)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (workflow, session_time)"
                " DO UPDATE SET last_used = excluded.last_used",
                (workflow, session_time, new_uuid, time.time()))
            row = self.db.execute(
                "SELECT id, session_uuid FROM sessions WHERE workflow = ? AND session_time = ?",
                (workflow, session_time)).fetchone()
        return int(row[0]), str(row[1])

    def last_session_time(self, workflow: str) -> str | None:
        row = self.db.execute("SELECT session_time FROM sessions WHERE workflow = ?"
                              " ORDER BY last_used DESC LIMIT 1", (workflow,)).fetchone()
        return row[0] if row else None

    def last_executed_before(self, workflow: str, session_time: datetime) -> datetime | None:
        rows = self.db.execute(
            "SELECT s.session_time FROM sessions s JOIN attempts a ON a.session_id = s.id"
            " WHERE s.workflow = ?", (workflow,)).fetchall()
        earlier = [t for t in (datetime.fromisoformat(r[0]) for r in rows) if t < session_time]
        return max(earlier) if earlier else None

    def last_attempt(self, session_id: int) -> tuple[int, str] | None:
        """(id, status) of the newest attempt of the session, if any."""
        row = self.db.execute("SELECT id, status FROM attempts WHERE session_id = ?"
                              " ORDER BY id DESC LIMIT 1", (session_id,)).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def start_attempt(self, session_id: int) -> int:
        with self.db:
            cur = self.db.execute("INSERT INTO attempts (session_id, started_at, status)"
                                  " VALUES (?, ?, 'running')", (session_id, time.time()))
        return int(cur.lastrowid or 0)

    def finish_attempt(self, attempt_id: int, status: str) -> None:
        self.flush()
        with self.db:
            self.db.execute("UPDATE attempts SET finished_at = ?, status = ? WHERE id = ?",
                            (time.time(), status, attempt_id))

    # -- images (the image lock) -------------------------------------------------------------
    def record_images(self, attempt_id: int, images: dict[str, str]) -> None:
        """The images (name -> id) tasks of the attempt ran in."""
        if images:
            with self.db:
                self.db.executemany(
                    "INSERT OR REPLACE INTO attempt_images (attempt_id, name, id) VALUES (?, ?, ?)",
                    [(attempt_id, name, image_id) for name, image_id in sorted(images.items())])

    def attempt_images(self, attempt_id: int) -> dict[str, str]:
        rows = self.db.execute("SELECT name, id FROM attempt_images WHERE attempt_id = ?"
                               " ORDER BY name", (attempt_id,))
        return {str(name): str(image_id) for name, image_id in rows}

    # -- task results ------------------------------------------------------------------------
    def results(self, session_id: int) -> dict[str, dict[str, Any]]:
        rows = self.db.execute("SELECT full_name, result FROM task_results WHERE session_id = ?",
                               (session_id,))
        return {name: json.loads(result) for name, result in rows}

    def clear_results(self, session_id: int) -> None:
        with self.db:
            self.db.execute("DELETE FROM task_results WHERE session_id = ?", (session_id,))

    def save_result(self, session_id: int, full_name: str, result: dict[str, Any]) -> None:
        self.pending.append((session_id, full_name, json.dumps(result, default=str)))
        if len(self.pending) >= 2000 or time.monotonic() - self.last_flush > 1.0:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            with self.db:
                self.db.executemany(
                    "INSERT OR REPLACE INTO task_results (session_id, full_name, result)"
                    " VALUES (?, ?, ?)", self.pending)
            self.pending = []
        self.last_flush = time.monotonic()
