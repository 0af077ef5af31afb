"""The server's notifiers: Digdag's `notification.type = mail | http | shell`.

The server sends a notification when an attempt fails ("Workflow session attempt failed")
or an SLA is violated ("SLA violation"). `notifier_from_config(settings)` reads the
`notification.*` keys of the server's configuration file and returns a Notifier, or None
when `notification.type` is not set; a bad configuration (an unknown type, a missing
required key, a value that is not a number or a flag, an unreadable or bad mail template)
raises UserInputError naming the key, so the server refuses to start.

    notifier = notifier_from_config(config.settings)
    if notifier:
        notifier.send(Notification.now("Workflow session attempt failed", attempt_id=7, ...))

`send` tries `notification.retries` + 1 times (default 10 retries), waiting between tries
1 s, 3 s, 9 s, 27 s, then 30 s (Digdag's back-off: `notification.min_retry_wait` times 3 per
retry, at most `notification.max_retry_wait`, both in milliseconds); each failed try logs a
warning on the logger "dockerflow.notify" naming the notifier and the reason; when every
try failed it raises NotificationError. It blocks while it waits: call it off the event loop.

The JSON (the http body, the shell command's stdin, the mail template's values) is what
Digdag sends, the Jackson serialization of io.digdag.spi.Notification: the keys are the
snake_case names of its @JsonProperty annotations (not camelCase), every key is present and
unknown context is null:

    timestamp               string, UTC, whole seconds: "2024-03-05T01:02:03Z"
    message                 string
    site_id, project_id     integer (Java Integer)
    attempt_id, session_id, workflow_definition_id
                            integer (Java Long)
    project_name, workflow_name, revision, task_name
                            string
    timezone                string, the zone's name: "Asia/Tokyo", "UTC" (the key is
                            `timezone`; the Python field is `time_zone`)
    session_uuid            string, a UUID: "9b7e7cf4-2b4e-4a0c-9f5e-6d8b1f0c2a3e"
    session_time            string, with the workflow zone's offset, whole seconds:
                            "2024-03-05T00:00:00+09:00" (never "Z")
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from dockerflow.errors import UserInputError
from dockerflow.notify.base import Notification, NotificationError, Sender, Settings
from dockerflow.notify.http import HttpSender
from dockerflow.notify.mail import MailSender
from dockerflow.notify.shell import ShellSender

__all__ = ["HttpSender", "MailSender", "Notification", "NotificationError", "Notifier",
           "RetryingNotifier", "Sender", "ShellSender", "TYPES", "notifier_from_config"]

log = logging.getLogger("dockerflow.notify")

TYPES: dict[str, Callable[[Settings], Sender]] = {
    "mail": MailSender.from_settings,
    "http": HttpSender.from_settings,
    "shell": ShellSender.from_settings,
}


class Notifier(Protocol):
    def send(self, notification: Notification) -> None:
        """Deliver `notification`, retrying; raises NotificationError when every try failed."""
        ...


class RetryingNotifier:
    """`sender` tried up to `retries` + 1 times, waiting `min_wait` seconds times 3 per retry
    (at most `max_wait`) between tries, through `sleep`."""

    def __init__(self, sender: Sender, *, retries: int = 10, min_wait: float = 1.0,
                 max_wait: float = 30.0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.sender = sender
        self.retries = retries
        self.min_wait = min_wait
        self.max_wait = max(max_wait, min_wait)
        self.sleep = sleep

    def send(self, notification: Notification) -> None:
        tries = self.retries + 1

        def failed_try(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            log.warning("notification by %s failed (try %d of %d): %s; retrying in %g s",
                        self.sender.name, state.attempt_number, tries, error, wait)

        retrying = Retrying(stop=stop_after_attempt(tries), reraise=True, sleep=self.sleep,
                            retry=retry_if_exception_type(NotificationError),
                            wait=wait_exponential(multiplier=self.min_wait, exp_base=3,
                                                  min=self.min_wait, max=self.max_wait),
                            before_sleep=failed_try)
        try:
            retrying(self.sender.send_once, notification)
        except NotificationError as e:
            log.warning("notification by %s failed (try %d of %d): %s; giving up",
                        self.sender.name, tries, tries, e)
            raise NotificationError(f"sending the notification by {self.sender.name} failed"
                                    f" after {tries} {'try' if tries == 1 else 'tries'}: {e}") from e


def notifier_from_config(config: Mapping[str, str], *,
                         sleep: Callable[[float], None] = time.sleep) -> Notifier | None:
    """The notifier that the server's settings (flat `key -> value`, e.g. Config.settings)
    ask for, or None without `notification.type`. Raises UserInputError naming the key."""
    kind = config.get("notification.type")
    if kind is None:
        return None
    kind = str(kind).strip()
    if kind not in TYPES:
        raise UserInputError(f"notification.type {kind!r} is not a notifier: use one of"
                             f" {', '.join(TYPES)}")
    settings = Settings(config, kind)
    retries = settings.integer("notification.retries", 10)
    min_wait = settings.integer("notification.min_retry_wait", 1000)
    max_wait = settings.integer("notification.max_retry_wait", 30_000)
    sender = TYPES[kind](settings)
    unused = sorted(k for k in config if k.startswith(f"notification.{kind}.")
                    and k not in settings.used)
    if unused:
        log.warning("ignoring unknown notification keys: %s", ", ".join(unused))
    return RetryingNotifier(sender, retries=retries, min_wait=min_wait / 1000,
                            max_wait=max_wait / 1000, sleep=sleep)
