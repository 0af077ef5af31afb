"""File names: the workflow a command names, and those made from task names (task I/O
folders, log files).

A full task name is a path through the tree (`+wf+group+...+task`) and has no length limit;
a file name has one (255 bytes on most file systems). Short names are used as they are;
long ones keep their end (the most specific part) and a hash of the whole name, so they stay
unique and recognisable.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

LOCK_FILE = "dockerflow.lock"  # the image lock at the project's root (imagelock.py)
MAX_BYTES = 120  # a name and a suffix such as ".log" stay far below 255 bytes
TAIL_BYTES = 80


def workflow_path(project: Path, name: str) -> Path:
    """The file of workflow `name` (`run`, `check`, `graph`): relative to `project` unless
    absolute; `.dig` is added when `name` has no such suffix and no such file exists."""
    path = Path(name)
    if not path.is_absolute():
        path = project / path
    if path.suffix != ".dig" and not path.exists():
        path = path.with_name(path.name + ".dig")
    return path


def task_file_name(full_name: str) -> str:
    safe = full_name.replace("/", "_").replace("\0", "_")
    if len(safe.encode("utf-8")) <= MAX_BYTES:
        return safe
    digest = hashlib.sha256(full_name.encode("utf-8")).hexdigest()[:16]
    tail = safe
    while len(tail.encode("utf-8")) > TAIL_BYTES:
        tail = tail[1:]
    return f"{digest}~{tail}"
