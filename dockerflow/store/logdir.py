"""Task logs kept as files instead of database rows (`dockerflow server --task-log DIR`):

    DIR/<attempt id>/<task>.log     one file per task, a line per output line
    DIR/<attempt id>/tasks          "file name<TAB>task name" lines, in order of first line

Processes that share DIR (the server and the workers on its machine) append to the same
files; a lock file per attempt keeps their index lines whole. Lines already in the database
(written by workers that were not given the folder) are still read from there.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from dockerflow.pathnames import task_file_name

INDEX = "tasks"


class LogFolder:
    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().absolute()
        self._lock = threading.Lock()
        self._files: dict[tuple[int, str], str] = {}  # (attempt, task) -> file name, cached

    def _folder(self, attempt_id: int) -> Path:
        return self.root / str(int(attempt_id))

    def _index(self, attempt_id: int) -> list[tuple[str, str]]:
        try:
            text = (self._folder(attempt_id) / INDEX).read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return [(f, n) for f, _, n in (line.partition("\t") for line in text.splitlines()) if n]

    @contextmanager
    def _locked(self, attempt_id: int) -> Iterator[Path]:
        folder = self._folder(attempt_id)
        folder.mkdir(parents=True, exist_ok=True)
        with self._lock, open(folder / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield folder

    def _file_of(self, attempt_id: int, task_name: str, create: bool) -> str | None:
        key = (attempt_id, task_name)
        found = self._files.get(key)
        if found is not None:
            return found
        if not create:
            return next((f for f, n in self._index(attempt_id) if n == task_name), None)
        with self._locked(attempt_id) as folder:
            index = self._index(attempt_id)
            found = next((f for f, n in index if n == task_name), None)
            if found is None:
                taken = {f for f, _ in index}
                found = base = task_file_name(task_name) + ".log"
                number = 1
                while found in taken:  # two names that make the same file name
                    number += 1
                    found = f"{base[:-4]}.{number}.log"
                with open(folder / INDEX, "a", encoding="utf-8") as f:
                    f.write(f"{found}\t{task_name}\n")
        self._files[key] = found
        return found

    def append(self, attempt_id: int, task_name: str, lines: Sequence[str]) -> None:
        name = self._file_of(attempt_id, task_name, create=True)
        assert name is not None
        text = "".join(line.replace("\n", " ") + "\n" for line in lines)
        fd = os.open(self._folder(attempt_id) / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, text.encode("utf-8"))  # one write: whole lines, even with other writers
        finally:
            os.close(fd)

    def lines(self, attempt_id: int, task_name: str) -> list[str] | None:
        """The task's lines, or None when the folder has no file of it."""
        name = self._file_of(attempt_id, task_name, create=False)
        if name is None:
            return None
        try:
            return (self._folder(attempt_id) / name).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []

    def names(self, attempt_id: int) -> list[str]:
        return [n for _, n in self._index(attempt_id)]
