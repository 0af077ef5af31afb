"""Time as an object, so that what runs at given times (the server's scheduler, SLAs) can be
tested without sleeping: the real clock here, a hand-moved one in the tests."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...  # epoch seconds


class SystemClock:
    def now(self) -> float:
        return time.time()
