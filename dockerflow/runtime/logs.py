"""Task logs of a local run, as files: `<state>/logs/<workflow>/<session stamp>/<task>.log`.

A log store keyed by attempt and task (the store's `append_log` / `task_log` is the other
one, for runs through a database). Each attempt writes into its own folder, so the logs of a
require>d attempt never land in its parent's. Files are opened on a task's first line and
closed when the task ends.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import IO

from dockerflow.pathnames import task_file_name


class FileLogStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dirs: dict[int, Path] = {}
        self._open: dict[tuple[int, str], IO[str]] = {}

    def open_attempt(self, attempt_id: int, folder: Path) -> None:
        with self._lock:
            self._dirs[attempt_id] = folder

    def path(self, attempt_id: int, task_name: str) -> Path | None:
        folder = self._dirs.get(attempt_id)
        return None if folder is None else folder / f"{task_file_name(task_name)}.log"

    def append(self, attempt_id: int, task_name: str, line: str) -> None:
        key = (attempt_id, task_name)
        with self._lock:
            log = self._open.get(key)
            if log is None:
                path = self.path(attempt_id, task_name)
                if path is None:
                    return
                path.parent.mkdir(parents=True, exist_ok=True)
                log = self._open[key] = open(path, "a", encoding="utf-8")
            log.write(line + "\n")

    def end_task(self, attempt_id: int, task_name: str) -> None:
        with self._lock:
            log = self._open.pop((attempt_id, task_name), None)
        if log is not None:
            log.close()

    def close(self) -> None:
        with self._lock:
            logs, self._open = list(self._open.values()), {}
        for log in logs:
            log.close()
