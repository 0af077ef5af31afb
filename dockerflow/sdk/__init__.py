"""Write, read and generate `.dig` workflows from Python.

    from dockerflow.sdk import Daily, Sh, Workflow, parse_dig, to_dig

    wf = Workflow(name="hello", schedule=Daily("07:00:00"),
                  tasks=[Sh(name="hello", command="echo hello: world")])
    text = to_dig(wf)                    # valid .dig text, quoted where needed
    assert parse_dig(text, "hello") == wf

Models are frozen pydantic models (`dockerflow.sdk.models`); `to_dig` writes them
(`writer`), `read_dig`/`parse_dig` read files through the engine's loader (`reader`),
`Project` writes a folder of workflows or a tar.gz for the server (`project`), and
`dockerflow.sdk.compat` accepts digdag-py's names.
"""

from __future__ import annotations

from dockerflow.sdk.models import (
    Attachment,
    Cache,
    Call,
    Cron,
    Daily,
    Docker,
    Echo,
    Fail,
    ForEach,
    ForRange,
    Group,
    Hourly,
    Http,
    HttpCall,
    If,
    Loop,
    Mail,
    MinutesInterval,
    Monthly,
    Operator,
    OperatorTask,
    ParallelLimit,
    Py,
    Require,
    Retry,
    Schedule,
    SecondsInterval,
    Sh,
    Sla,
    Task,
    Wait,
    Weekly,
    Workflow,
)
from dockerflow.sdk.project import Project, ProjectFile, ProjectWriteError
from dockerflow.sdk.reader import parse_dig, read_dig, workflow_from_config
from dockerflow.sdk.writer import to_dig

__all__ = [
    "Attachment", "Cache", "Call", "Cron", "Daily", "Docker", "Echo", "Fail", "ForEach",
    "ForRange", "Group", "Hourly", "Http", "HttpCall", "If", "Loop", "Mail", "MinutesInterval",
    "Monthly", "Operator", "OperatorTask", "ParallelLimit", "Project", "ProjectFile", "ProjectWriteError",
    "Py", "Require", "Retry", "Schedule", "SecondsInterval", "Sh", "Sla", "Task", "Wait", "Weekly",
    "Workflow", "parse_dig", "read_dig", "to_dig", "workflow_from_config",
]
