"""A Python client of dockerflow's (and Digdag's) REST API: `Client`, its models and errors."""

from dockerflow.client.client import (
    DEFAULT_ENDPOINT,
    ApiError,
    AttemptConflict,
    BadRequest,
    Client,
    ClientError,
    Conflict,
    NotFound,
    ServerUnreachable,
    Unauthorized,
    api_time,
)
from dockerflow.client.models import (
    Attempt,
    IdAndName,
    LastAttempt,
    LogFile,
    NameOptionalId,
    Project,
    Revision,
    Schedule,
    Session,
    SessionTime,
    Task,
    Version,
    VersionCheck,
    Workflow,
)

__all__ = [
    "DEFAULT_ENDPOINT", "ApiError", "AttemptConflict", "BadRequest", "Client", "ClientError",
    "Conflict", "NotFound", "ServerUnreachable", "Unauthorized", "api_time",
    "Attempt", "IdAndName", "LastAttempt", "LogFile", "NameOptionalId", "Project", "Revision",
    "Schedule", "Session", "SessionTime", "Task", "Version", "VersionCheck", "Workflow",
]
