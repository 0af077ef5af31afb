"""Sizes as people write them: `64m`, `1g`, `512MiB`, `1.5G`, `1048576` (powers of 1024,
like the docker CLI). Used by `docker: {memory: ...}`, run options and the cache limit."""

from __future__ import annotations

import re
from typing import Any

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmgtp]?)(?:i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


def parse_size(value: Any, what: str = "size") -> int:
    """Bytes; ValueError naming `what` for anything else."""
    if isinstance(value, bool):
        raise ValueError(f"{what}: expected a size like 64m or 1g, got {value!r}")
    if isinstance(value, int):
        return value
    match = _SIZE_RE.match(str(value))
    if not match:
        raise ValueError(f"{what}: expected a size like 64m or 1g, got {value!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])
