"""notify>: send a notification through the server's notifier (`notification.type` in its
`-c FILE`). The engine adds it as `^failure-alert` when an attempt fails and as `^sla^alert`
when an SLA is broken; without a notifier the message goes to the task's log only.

Its `_notification` key carries what the params don't: project_name, revision,
workflow_name, workflow_definition_id.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from dockerflow.dig.operator_options import OPERATOR_OPTIONS
from dockerflow.errors import TaskFailure
from dockerflow.graph.task import TaskResult
from dockerflow.notify.base import Notification, NotificationError
from dockerflow.operators.base import OperatorContext
from dockerflow.operators.simple import text_of


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def notification_of(ctx: OperatorContext, message: str) -> Notification:
    params = ctx.params
    extra = ctx.config.get("_notification")
    extra = extra if isinstance(extra, Mapping) else {}
    session_time = params.get("session_time")
    return Notification.now(
        message, site_id=0, project_id=_int(params.get("project_id")),
        project_name=extra.get("project_name"), workflow_name=extra.get("workflow_name"),
        revision=extra.get("revision"), attempt_id=_int(params.get("attempt_id")),
        session_id=_int(params.get("session_id")), task_name=ctx.full_name,
        time_zone=params.get("timezone"), session_uuid=params.get("session_uuid"),
        session_time=datetime.fromisoformat(session_time) if isinstance(session_time, str) else None,
        workflow_definition_id=_int(extra.get("workflow_definition_id")))


class NotifyOperator:
    name: ClassVar[str] = "notify"
    retryable: ClassVar[bool] = False  # the notifier retries on its own
    inline: ClassVar[bool] = False  # a send may wait between tries: never in the coordinator
    options: ClassVar[frozenset[str]] = OPERATOR_OPTIONS["notify"]

    def run(self, ctx: OperatorContext) -> TaskResult:
        message = text_of(ctx.command) or "notification"
        if ctx.notifier is None:
            ctx.output(f"{message} (no notification.type is set: nothing is sent)")
            return TaskResult()
        try:
            ctx.notifier.send(notification_of(ctx, message))
        except NotificationError as e:
            raise TaskFailure(f"the notification {message!r} could not be sent: {e}") from None
        ctx.output(f"{message}: notification sent")
        return TaskResult()
