"""All SDK models in one place: workflow, tasks, schedules and value types."""

from __future__ import annotations

from dockerflow.sdk.schedule import (
    Cron,
    Daily,
    Hourly,
    MinutesInterval,
    Monthly,
    Schedule,
    SecondsInterval,
    Weekly,
)
from dockerflow.sdk.tasks import (
    Attachment,
    Call,
    Echo,
    Fail,
    ForEach,
    ForRange,
    Group,
    Http,
    HttpCall,
    If,
    Loop,
    Mail,
    Operator,
    OperatorTask,
    Py,
    Require,
    Sh,
    Task,
    Wait,
)
from dockerflow.sdk.values import Cache, Docker, ParallelLimit, Retry
from dockerflow.sdk.workflow import Sla, Workflow

__all__ = [
    "Attachment", "Cache", "Call", "Cron", "Daily", "Docker", "Echo", "Fail", "ForEach",
    "ForRange", "Group", "Hourly", "Http", "HttpCall", "If", "Loop", "Mail", "MinutesInterval",
    "Monthly", "Operator", "OperatorTask", "ParallelLimit", "Py", "Require", "Retry", "Schedule",
    "SecondsInterval", "Sh", "Sla", "Task", "Wait", "Weekly", "Workflow",
]
