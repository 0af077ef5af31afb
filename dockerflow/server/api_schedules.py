"""Schedules: list, get, and the actions of `digdag schedules|disable|enable|backfill|reschedule`.

    GET  /api/schedules[?last_id]                     RestScheduleCollection (id ascending)
    GET  /api/schedules/{id}                          RestSchedule
    GET  /api/projects/{id}/schedules[?workflow]      RestScheduleCollection
    POST /api/schedules/{id}/skip      {count, fromTime} | {nextTime} [, nextRunTime, dryRun]
    POST /api/schedules/{id}/backfill  {fromTime, attemptName, count?, dryRun}
    POST /api/schedules/{id}/disable   (any body or none)
    POST /api/schedules/{id}/enable    (none, {}, or {skipSchedule, nextTime})

Times in bodies are ISO-8601 with an offset or `Z`, or local `yyyy-MM-dd HH:mm:ss` in the
workflow's zone. Skipping to a time that is not after the schedule's next session is a 409
("already past"), as a backfill whose sessions already have an attempt of that name is.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import Body, FastAPI

from dockerflow.dig.schedule import ScheduleTime, backfill_sessions, first_schedule, skip_schedule
from dockerflow.server import rest
from dockerflow.server.engine import ServerEngine
from dockerflow.server.rest import ApiError, IdPath, OptionalInt64, live_project, parse_api_time
from dockerflow.server.scheduler import schedule_of, spec_times
from dockerflow.store.base import AttemptExists, AttemptRecord, AttemptStatus, ScheduleRecord, Store
from dockerflow.timeutil import iso_offset

MAX_BACKFILL = 1000  # attempts one backfill may start
MAX_SKIP = 100_000  # sessions one reschedule may skip


def add_schedule_routes(app: FastAPI, store: Store, engine: ServerEngine) -> None:
    def names(record: ScheduleRecord) -> tuple[rest.IdAndName, rest.IdAndName]:
        project = store.project(record.project_id)
        return (rest.IdAndName(id=str(record.project_id), name=project.name if project else ""),
                rest.IdAndName(id=str(record.workflow_id), name=record.workflow))

    def rest_schedule(record: ScheduleRecord) -> rest.RestSchedule:
        project, workflow = names(record)
        return rest.RestSchedule(id=str(record.id), project=project, workflow=workflow,
                                 nextRunTime=rest.instant(record.next_run_time) or "",
                                 nextScheduleTime=record.next_schedule_time,
                                 disabledAt=rest.instant(record.disabled_at))

    def summary(record: ScheduleRecord, at: ScheduleTime | None = None) -> rest.RestScheduleSummary:
        base = rest_schedule(record).model_dump()
        if at is not None:  # a dry run's or an update's times
            run, session = spec_times(at)
            base.update(nextRunTime=rest.instant(run), nextScheduleTime=session)
        return rest.RestScheduleSummary(**base, createdAt=rest.instant(record.created_at) or "",
                                        updatedAt=rest.instant(record.updated_at) or "")

    def schedule_or_404(schedule_id: int) -> ScheduleRecord:
        record = store.get_schedule(schedule_id)
        if record is None:
            raise ApiError(404, f"Schedule id={schedule_id} not found")
        return record

    def body_time(body: dict[str, Any], key: str, record: ScheduleRecord) -> datetime | None:
        value = body.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise ApiError(400, f"{key} must be a time such as \"2024-01-01T00:00:00Z\", got {value!r}")
        _, zone = schedule_of(record.config)
        when = parse_api_time(value.replace(" ", "T", 1) if " " in value[:11] else value, zone,
                              local_ok=True)
        if not 1900 <= when.year <= 9000:
            raise ApiError(400, f"{key} {value!r} is out of range: use a year from 1900 to 9000")
        return when

    def flag(body: dict[str, Any], key: str) -> bool:
        value = body.get(key, False)
        if not isinstance(value, bool):
            raise ApiError(400, f"{key} must be true or false, got {value!r}")
        return value

    def current(record: ScheduleRecord) -> datetime:
        return datetime.fromisoformat(record.next_schedule_time)

    def move(record: ScheduleRecord, to: ScheduleTime, run_at: datetime | None,
             dry_run: bool) -> rest.RestScheduleSummary:
        if to.session_time <= current(record):
            raise ApiError(409, "Specified time to skip schedules is already past: the next session"
                                f" is {record.next_schedule_time}")
        if run_at is not None:
            to = ScheduleTime(to.session_time, run_at.astimezone(timezone.utc))
        if dry_run:
            return summary(record, to)
        run, session = spec_times(to)
        updated = store.update_schedule(record.id, next_run_time=run, next_schedule_time=session)
        assert updated is not None
        return summary(updated)

    @app.get("/api/schedules", response_model=rest.RestScheduleCollection)
    def schedules(last_id: OptionalInt64 = None) -> rest.RestScheduleCollection:
        records = store.schedules(last_id=last_id or 0)
        return rest.RestScheduleCollection(schedules=[rest_schedule(r) for r in records])

    @app.get("/api/schedules/{schedule_id}", response_model=rest.RestSchedule)
    def schedule(schedule_id: IdPath) -> rest.RestSchedule:
        return rest_schedule(schedule_or_404(schedule_id))

    @app.get("/api/projects/{project_id}/schedules", response_model=rest.RestScheduleCollection)
    def project_schedules(project_id: IdPath, workflow: str | None = None,
                          last_id: OptionalInt64 = None) -> rest.RestScheduleCollection:
        live_project(store, project_id)
        records = store.schedules(project_id=project_id, workflow=workflow or None,
                                  last_id=last_id or 0)
        return rest.RestScheduleCollection(schedules=[rest_schedule(r) for r in records])

    @app.post("/api/schedules/{schedule_id}/skip", response_model=rest.RestScheduleSummary)
    def skip(schedule_id: IdPath, body: Annotated[dict[str, Any] | None, Body()] = None) -> Any:
        record = schedule_or_404(schedule_id)
        body = body or {}
        s, zone = schedule_of(record.config)
        run_at = body_time(body, "nextRunTime", record)
        next_time = body_time(body, "nextTime", record)
        if next_time is not None:
            return move(record, first_schedule(s, zone, next_time), run_at, flag(body, "dryRun"))
        count = body.get("count")
        from_time = body_time(body, "fromTime", record)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0 or from_time is None:
            raise ApiError(400, "give nextTime, or count (a number of sessions) with fromTime")
        if count > MAX_SKIP:
            raise ApiError(400, f"count {count} is more than {MAX_SKIP} sessions: use nextTime")
        at = skip_schedule(s, zone, first_schedule(s, zone, from_time), count)
        return move(record, at, run_at, flag(body, "dryRun"))

    @app.post("/api/schedules/{schedule_id}/disable", response_model=rest.RestScheduleSummary)
    def disable(schedule_id: IdPath, body: Annotated[Any, Body()] = None) -> Any:
        schedule_or_404(schedule_id)
        updated = store.update_schedule(schedule_id, disabled=True)
        assert updated is not None
        return summary(updated)

    @app.post("/api/schedules/{schedule_id}/enable", response_model=rest.RestScheduleSummary)
    def enable(schedule_id: IdPath, body: Annotated[Any, Body()] = None) -> Any:
        record = schedule_or_404(schedule_id)
        options = body if isinstance(body, dict) else {}
        s, zone = schedule_of(record.config)
        next_time = body_time(options, "nextTime", record)
        to: ScheduleTime | None = None
        if next_time is not None:
            to = first_schedule(s, zone, next_time)
        elif flag(options, "skipSchedule"):  # the sessions missed while disabled are not run
            to = first_schedule(s, zone, datetime.now(timezone.utc))
        if to is not None and to.session_time > current(record):
            run, session = spec_times(to)
            store.update_schedule(schedule_id, next_run_time=run, next_schedule_time=session)
        updated = store.update_schedule(schedule_id, disabled=False)
        assert updated is not None
        return summary(updated)

    @app.post("/api/schedules/{schedule_id}/backfill",
              response_model=rest.RestScheduleAttemptCollection)
    def backfill(schedule_id: IdPath, body: Annotated[dict[str, Any] | None, Body()] = None) -> Any:
        record = schedule_or_404(schedule_id)
        body = body or {}
        from_time = body_time(body, "fromTime", record)
        name = body.get("attemptName")
        if from_time is None or not isinstance(name, str) or not name:
            raise ApiError(400, "fromTime and attemptName (the retry name of the new attempts)"
                                " are required")
        count = body.get("count")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
            raise ApiError(400, f"count must be a positive number, got {count!r}")
        if count is not None and count > MAX_BACKFILL:
            raise ApiError(400, f"count {count} is more than {MAX_BACKFILL} attempts")
        s, zone = schedule_of(record.config)
        start = first_schedule(s, zone, from_time).session_time  # Digdag: run time >= fromTime
        # at most one more than allowed: a far-away fromTime is refused without listing it all
        times = backfill_sessions(s, zone, start, current(record),
                                  min(count or MAX_BACKFILL + 1, MAX_BACKFILL + 1))
        if count is not None and len(times) < count:
            raise ApiError(400, f"count is set to {count} but there are only {len(times)} sessions"
                                f" until the next schedule time {record.next_schedule_time}")
        if len(times) > MAX_BACKFILL:
            raise ApiError(400, f"that backfill would start {len(times)} attempts, more than"
                                f" {MAX_BACKFILL}: give a later fromTime or a count")
        project, workflow = names(record)
        definition = store.workflow_definition(record.workflow_id)
        if definition is None:
            raise ApiError(404, f"the workflow of schedule id={schedule_id} is gone")
        for when in times:
            found = store.find_session(record.workflow, iso_offset(when), record.project_id)
            if found and any(a.retry_attempt_name == name for a in store.session_attempts(found.id)):
                raise ApiError(409, f"Attempt of project id={record.project_id}"
                                    f" workflow={record.workflow} session {iso_offset(when)}"
                                    f" attempt name={name} already exists")
        attempts: list[rest.RestSessionAttempt] = []
        if body.get("dryRun") is True:
            now = time.time()
            for when in times:
                dummy = AttemptRecord(id=0, session_id=0, workflow=record.workflow,
                                      session_time=iso_offset(when), status=AttemptStatus.RUNNING,
                                      started_at=now, finished_at=None, cancel_requested=False,
                                      params={}, retry_attempt_name=name,
                                      workflow_id=record.workflow_id, index=0,
                                      project_id=record.project_id)
                attempts.append(rest.session_attempt(dummy, project.name, ""))
        else:
            try:
                ids = engine.backfill(definition, times, name)
            except AttemptExists as e:
                raise ApiError(409, f"an attempt named {name} of that session exists already"
                                    f" (id {e.attempt_id})") from None
            for attempt_id in ids:
                started = store.get_attempt(attempt_id)
                session = store.get_session(started.session_id) if started else None
                if started is not None:
                    attempts.append(rest.session_attempt(started, project.name,
                                                         session.uuid if session else ""))
        return rest.RestScheduleAttemptCollection(id=str(record.id), project=project,
                                                  workflow=workflow, attempts=attempts)
