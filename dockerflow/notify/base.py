"""The notification, its JSON, the error, and the readers of the `notification.*` keys."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any, Protocol

from dockerflow.errors import DockerflowError, UserInputError
from dockerflow.timeutil import iso_offset

# Python field name -> JSON key, in Digdag's order (io.digdag.spi.Notification)
JSON_KEYS: dict[str, str] = {
    "timestamp": "timestamp",
    "message": "message",
    "site_id": "site_id",
    "project_id": "project_id",
    "project_name": "project_name",
    "workflow_name": "workflow_name",
    "revision": "revision",
    "attempt_id": "attempt_id",
    "session_id": "session_id",
    "task_name": "task_name",
    "time_zone": "timezone",
    "session_uuid": "session_uuid",
    "session_time": "session_time",
    "workflow_definition_id": "workflow_definition_id",
}


class NotificationError(DockerflowError):
    """A notification could not be sent: one try (from a sender), or every try (from
    `Notifier.send`, with the last try's error as `__cause__`)."""


@dataclass(frozen=True)
class Notification:
    """What happened (`message` at `timestamp`) and where; unknown context is None.

    `timestamp` and `session_time` must be timezone-aware; `time_zone` is the workflow's
    zone name ("Asia/Tokyo", "UTC", "+09:00"); `session_uuid` the session's UUID as text."""

    timestamp: datetime
    message: str
    site_id: int | None = None
    project_id: int | None = None
    project_name: str | None = None
    workflow_name: str | None = None
    revision: str | None = None
    attempt_id: int | None = None
    session_id: int | None = None
    task_name: str | None = None
    time_zone: str | None = None
    session_uuid: str | None = None
    session_time: datetime | None = None
    workflow_definition_id: int | None = None

    def __post_init__(self) -> None:
        for name in ("timestamp", "session_time"):
            value = getattr(self, name)
            if isinstance(value, datetime) and value.utcoffset() is None:
                raise ValueError(f"Notification.{name} must be timezone-aware, not {value!r}")

    @classmethod
    def now(cls, message: str, **context: Any) -> Notification:
        """A notification stamped with the current time."""
        return cls(datetime.now(timezone.utc), message, **context)

    def to_json(self) -> dict[str, Any]:
        """Digdag's JSON object: every key present, null for unknown context."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "timestamp":
                value = value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            elif f.name == "session_time" and value is not None:
                value = iso_offset(value)
            elif f.name == "session_uuid" and value is not None:
                value = str(value)
            out[JSON_KEYS[f.name]] = value
        return out

    def json_bytes(self) -> bytes:
        """`to_json()` as compact UTF-8 JSON (what http and shell send)."""
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":")).encode()


class Sender(Protocol):
    """One way of delivering a notification, tried once: raises NotificationError with the
    reason when that try failed. `name` ("http", "shell", "mail") goes into log lines."""

    name: str

    def send_once(self, notification: Notification) -> None: ...


@dataclass
class Settings:
    """The `notification.*` keys of the server's configuration, with errors naming the key."""

    config: Mapping[str, str]
    kind: str = ""
    used: set[str] = field(default_factory=set)

    def get(self, key: str, *, strip: bool = True) -> str | None:
        self.used.add(key)
        value = self.config.get(key)
        if value is None:
            return None
        return str(value).strip() if strip else str(value)

    def required(self, key: str) -> str:
        value = self.get(key)
        if not value:
            raise UserInputError(f"{key} is not set: notification.type = {self.kind} needs it")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.get(key)
        if value is None or value == "":
            return default
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise UserInputError(f"{key} must be true or false, not {value!r}")

    def integer(self, key: str, default: int, minimum: int = 0) -> int:
        value = self.get(key)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            number = minimum - 1
        if number < minimum:
            raise UserInputError(f"{key} must be a whole number >= {minimum}, not {value!r}")
        return number
