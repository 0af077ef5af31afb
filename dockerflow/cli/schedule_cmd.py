"""The schedule commands of Digdag's client: schedules, disable, enable, backfill, reschedule.

    dockerflow schedules
    dockerflow disable|enable SCHEDULE_ID | PROJECT [WORKFLOW]
    dockerflow backfill SCHEDULE_ID | PROJECT WORKFLOW -f FROM --name NAME [--count N] [-d]
    dockerflow reschedule SCHEDULE_ID | PROJECT WORKFLOW -s N | -t TIME [-a RUN_AT] [-d]

Times are `yyyy-MM-dd HH:mm:ss` in the workflow's zone, or ISO-8601 with an offset.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import click

from dockerflow.cli.client_cmd import Out, api_command, every_page, local, session_text, state
from dockerflow.client import Client, Schedule
from dockerflow.errors import UserInputError


def _schedules(api: Client, target: tuple[str, ...], one: bool) -> list[Schedule]:
    """SCHEDULE_ID, or PROJECT [WORKFLOW] (WORKFLOW required when `one`)."""
    if len(target) == 1 and target[0].isdigit():
        return [api.get_schedule(target[0])]
    if not target or len(target) > 2 or (one and len(target) != 2):
        raise UserInputError("give a schedule id, or a project name and a workflow name"
                             + ("" if one else " (or just a project: all of its schedules)"))
    project = api.get_project_by_name(target[0])
    found = api.get_project_schedules(project.id, target[1] if len(target) == 2 else None)
    if not found:
        what = f"workflow {target[1]!r} of project {target[0]!r}" if len(target) == 2 \
            else f"project {target[0]!r}"
        raise UserInputError(f"{what} has no schedule")
    return found


def _table(out: Out, found: list[Schedule]) -> None:
    out.table(["ID", "PROJECT", "WORKFLOW", "NEXT SESSION", "NEXT RUN", "STATE"],
              [[s.id, s.project.name, s.workflow.name, session_text(s.next_schedule_time),
                local(s.next_run_time),
                state("disabled") if s.disabled_at else ("enabled", "green")] for s in found])


def _time(text: str, what: str) -> str:
    """A time as the API reads it: local `yyyy-MM-dd HH:mm:ss` (the workflow's zone) or ISO."""
    value = text.strip()
    try:
        datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        raise UserInputError(f"{what} {text!r}: use 'yyyy-MM-dd HH:mm:ss' (the workflow's zone)"
                             " or an ISO time with an offset") from None
    return value


@api_command("schedules")
def schedules(api: Client, out: Out) -> None:
    """List the schedules of every project."""
    found = every_page(lambda last_id: api.get_schedules(last_id=last_id))
    if out.json:
        out.print_json({"schedules": [s.raw for s in found]})
        return
    _table(out, found)


@api_command("disable")
@click.argument("target", nargs=-1, metavar="SCHEDULE_ID | PROJECT [WORKFLOW]")
def disable(api: Client, out: Out, target: tuple[str, ...]) -> None:
    """Stop a schedule (or all of a project's) from starting sessions."""
    done = [api.disable_schedule(s.id) for s in _schedules(api, target, one=False)]
    if out.json:
        out.print_json({"schedules": [s.raw for s in done]})
        return
    for s in done:
        click.echo(f"Disabled schedule id {s.id} ({s.project.name} {s.workflow.name}).")


@api_command("enable")
@click.argument("target", nargs=-1, metavar="SCHEDULE_ID | PROJECT [WORKFLOW]")
def enable(api: Client, out: Out, target: tuple[str, ...]) -> None:
    """Let a disabled schedule start sessions again (the ones missed meanwhile run too)."""
    done = [api.enable_schedule(s.id) for s in _schedules(api, target, one=False)]
    if out.json:
        out.print_json({"schedules": [s.raw for s in done]})
        return
    for s in done:
        click.echo(f"Enabled schedule id {s.id} ({s.project.name} {s.workflow.name});"
                   f" next session {session_text(s.next_schedule_time)}.")


@api_command("backfill")
@click.argument("target", nargs=-1, metavar="SCHEDULE_ID | PROJECT WORKFLOW")
@click.option("-f", "--from", "from_time", required=True, metavar="TIME",
              help="The first session time to run ('yyyy-MM-dd HH:mm:ss', the workflow's zone).")
@click.option("--name", help="The attempts' retry name (default: a random UUID).")
@click.option("--count", type=click.IntRange(1), help="Run only this many sessions.")
@click.option("-d", "--dry-run", is_flag=True, help="Show the sessions without starting them.")
def backfill(api: Client, out: Out, target: tuple[str, ...], from_time: str, name: str | None,
             count: int | None, dry_run: bool) -> None:
    """Run the past sessions of a schedule from a time on, one after another."""
    schedule = _schedules(api, target, one=True)[0]
    started = api.backfill_schedule(schedule.id, _time(from_time, "--from"), name or str(uuid.uuid4()),
                                    count=count, dry_run=dry_run)
    if out.json:
        out.print_json({"attempts": [a.raw for a in started]})
        return
    if not started:
        click.echo("No session to backfill: the first one is not before the next scheduled one.")
        return
    click.echo(("Would start" if dry_run else "Started") + f" {len(started)} attempts, each"
               " after the one before:")
    out.table(["ATTEMPT", "SESSION", "STATUS"],
              [["-" if dry_run else a.id, session_text(a.session_time),
                "dry run" if dry_run else state(a.status or "running")] for a in started])


@api_command("reschedule")
@click.argument("target", nargs=-1, metavar="SCHEDULE_ID | PROJECT WORKFLOW")
@click.option("-s", "--skip", "skip_count", type=click.IntRange(1), metavar="N",
              help="Skip the next N sessions from now.")
@click.option("-t", "--skip-to", metavar="TIME", help="Skip to the first session at or after TIME.")
@click.option("-a", "--run-at", metavar="TIME", help="Start the new next session at TIME.")
@click.option("-d", "--dry-run", is_flag=True, help="Show the new next session without saving it.")
def reschedule(api: Client, out: Out, target: tuple[str, ...], skip_count: int | None,
               skip_to: str | None, run_at: str | None, dry_run: bool) -> None:
    """Move a schedule's next session forward."""
    if (skip_count is None) == (skip_to is None):
        raise UserInputError("give one of -s/--skip N or -t/--skip-to TIME")
    done = []
    for s in _schedules(api, target, one=len(target) != 1):
        done.append(api.skip_schedule(
            s.id, count=skip_count,
            from_time=datetime.now(timezone.utc) if skip_count is not None else None,
            next_time=_time(skip_to, "--skip-to") if skip_to else None,
            next_run_time=_time(run_at, "--run-at") if run_at else None, dry_run=dry_run))
    if out.json:
        out.print_json({"schedules": [s.raw for s in done]})
        return
    for s in done:
        click.echo(f"{'Would reschedule' if dry_run else 'Rescheduled'} schedule id {s.id}"
                   f" ({s.project.name} {s.workflow.name}): next session"
                   f" {session_text(s.next_schedule_time)}, run at {local(s.next_run_time)}.")
