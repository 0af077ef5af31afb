"""Digdag's client commands against a `dockerflow server` (through dockerflow.client).

    projects    push, download, delete, projects, workflows
    attempts    start, retry, kill, sessions, session, attempts, attempt, tasks, log [-f]
    version     the client's version and the server's

Every command takes -e/--endpoint (default $DOCKERFLOW_ENDPOINT, else
http://127.0.0.1:65432), -H/--header KEY=VALUE, --basic-auth USER:PASS, --token and --json
(the API's JSON, for scripts). Without --json: rich tables on a terminal, plain aligned
columns otherwise; instants in the local zone, session times in their workflow's.

Exit status: 1 when the server refused the request (`error: <its message>`), 2 for bad flags,
3 when no server answers at the endpoint. Never a traceback for any of them.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from dockerflow.client import (
    DEFAULT_ENDPOINT,
    ApiError,
    Attempt,
    AttemptConflict,
    Client,
    Project,
    Schedule,
    ServerUnreachable,
    Session,
    Workflow,
    api_time,
)
from dockerflow.errors import UserInputError

STATE_STYLES = {"success": "green", "error": "red", "group_error": "red", "killed": "magenta",
                "canceled": "magenta", "running": "cyan", "retry_waiting": "yellow",
                "group_retry_waiting": "yellow", "blocked": "dim", "planned": "dim", "ready": "dim"}
NO_WRAP = {"ID", "ATTEMPT", "SESSION", "STATUS", "STATE"}  # short: never folded in a rich table
FOLLOW_POLL = 0.5  # log -f: seconds between two looks at the attempt's log files

Cell = str | tuple[str, str]  # a text, or (text, rich style)
Item = TypeVar("Item", Project, Workflow, Schedule)


# -- the common options ------------------------------------------------------------------------
def _common_options() -> list[click.Parameter]:
    return [
        click.Option(["-e", "--endpoint"], envvar="DOCKERFLOW_ENDPOINT", default=DEFAULT_ENDPOINT,
                     show_default=True, metavar="URL",
                     help="The server's address (also $DOCKERFLOW_ENDPOINT)."),
        click.Option(["-H", "--header", "headers"], multiple=True, metavar="KEY=VALUE",
                     help="An HTTP header to send (repeatable)."),
        click.Option(["--basic-auth"], metavar="USER:PASS", help="HTTP basic authentication."),
        click.Option(["--token"], metavar="TOKEN", help="Send Authorization: Bearer TOKEN."),
        click.Option(["--json", "json_out"], is_flag=True, help="Print the API's JSON."),
    ]


class Out:
    """Where a command prints: JSON, rich tables on a terminal, or plain aligned text."""

    def __init__(self, json_out: bool) -> None:
        self.json = json_out
        self.terminal = sys.stdout.isatty()

    def print_json(self, data: Any) -> None:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> None:
        if self.terminal:
            from rich import box
            from rich.console import Console
            from rich.table import Table
            from rich.text import Text

            table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
            for h in headers:  # a narrow terminal folds the long columns
                table.add_column(h, overflow="fold", no_wrap=h in NO_WRAP)
            for row in rows:
                table.add_row(*(Text(c) if isinstance(c, str) else Text(c[0], style=c[1]) for c in row))
            Console(highlight=False).print(table)
            return
        texts = [list(headers)] + [[c if isinstance(c, str) else c[0] for c in row] for row in rows]
        widths = [max(len(r[i]) for r in texts) for i in range(len(headers))]
        for r in texts:
            click.echo("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())

    def record(self, title: str | None, pairs: Sequence[tuple[str, Cell]]) -> None:
        """`title:` then indented `key: value` lines, as Digdag's client prints one object."""
        if title:
            click.echo(f"{title}:")
        indent = "  " if title else ""
        for key, value in pairs:
            if isinstance(value, tuple) and self.terminal:
                text = click.style(value[0], fg=_click_colour(value[1]))
            else:
                text = value if isinstance(value, str) else value[0]
            click.echo(f"{indent}{key}: {text}")


def _click_colour(style: str) -> str | None:
    return None if style == "dim" else style


def api_command(name: str) -> Callable[[Callable[..., None]], click.Command]:
    """A click command whose function gets `(api: Client, out: Out, **its own options)`; the
    common options come last in --help, and the client's errors become one line and an exit
    status (1 the server refused, 3 no server answers)."""

    def decorate(fn: Callable[..., None]) -> click.Command:
        own = list(getattr(fn, "__click_params__", []))

        @functools.wraps(fn, updated=())
        def run(endpoint: str, headers: tuple[str, ...], basic_auth: str | None, token: str | None,
                json_out: bool, **kwargs: Any) -> None:
            client = Client(endpoint, headers=_headers(headers), basic_auth=_basic_auth(basic_auth),
                            token=token)
            try:
                fn(client, Out(json_out), **kwargs)
            except ServerUnreachable as e:
                _fail(f"no dockerflow server answers at {e.endpoint}: start one with dockerflow"
                      " server", 3)
            except ApiError as e:
                _fail(e.message, 1)
            finally:
                client.close()

        # click reverses the list: the command's own parameters, then the common ones.
        run.__click_params__ = list(reversed(_common_options())) + own  # type: ignore[attr-defined]
        return click.command(name)(run)

    return decorate


def _fail(message: str, status: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(status)


def _headers(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep:
            key, sep, text = value.partition(":")
        if not sep or not key.strip():
            raise click.BadParameter(f"{value!r}: expected KEY=VALUE", param_hint="-H/--header")
        out[key.strip()] = text.strip()
    return out


def _basic_auth(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user:
        raise click.BadParameter(f"{value!r}: expected USER:PASS", param_hint="--basic-auth")
    return user, password


# -- formats -----------------------------------------------------------------------------------
def when(t: datetime | None) -> str:
    """An instant in the local zone: 2024-05-01 09:00:00+09:00."""
    return t.astimezone().replace(microsecond=0).isoformat(" ") if t is not None else ""


def local(t: datetime | None) -> str:
    """An instant in the local zone without its offset, for a table's columns."""
    return t.astimezone().strftime("%Y-%m-%d %H:%M:%S") if t is not None else ""


def session_text(t: datetime) -> str:
    """A session time in its own (the workflow's) offset."""
    return t.replace(microsecond=0).isoformat(" ")


def state(text: str) -> Cell:
    style = STATE_STYLES.get(text)
    return (text, style) if style else text


def _params_text(params: dict[str, Any]) -> str:
    return json.dumps(params, ensure_ascii=False, sort_keys=True)


def _collection(key: str, items: Sequence[Any]) -> dict[str, Any]:
    return {key: [item.raw for item in items]}


def every_page(fetch: Callable[[str | None], list[Item]]) -> list[Item]:
    """Every item of a listing the server pages forward by id (`fetch(last_id)`)."""
    found: list[Item] = []
    last_id: str | None = None
    while page := fetch(last_id):
        found.extend(page)
        last_id = page[-1].id
    return found


def _ids(value: str, what: str) -> str:
    if not value.isdigit():
        raise click.BadParameter(f"{value!r} is not an id (digits)", param_hint=what)
    return value


def _attempt_pairs(a: Attempt) -> list[tuple[str, Cell]]:
    return [("session id", a.session_id), ("attempt id", a.id), ("uuid", a.session_uuid),
            ("project", a.project.name), ("workflow", a.workflow.name),
            ("session time", session_text(a.session_time)),
            ("retry attempt name", a.retry_attempt_name or ""),
            ("params", _params_text(a.params)), ("created at", when(a.created_at)),
            ("finished at", when(a.finished_at)), ("kill requested", str(a.cancel_requested).lower()),
            ("status", state(a.state))]


def _attempts_table(out: Out, attempts: Sequence[Attempt]) -> None:
    out.table(["ATTEMPT", "SESSION", "PROJECT", "WORKFLOW", "SESSION TIME", "RETRY NAME", "STATUS",
               "CREATED"],
              [[a.id, a.session_id, a.project.name, a.workflow.name, session_text(a.session_time),
                a.retry_attempt_name or "", state(a.state), local(a.created_at)] for a in attempts])


def _sessions_table(out: Out, sessions: Sequence[Session]) -> None:
    rows: list[list[Cell]] = []
    for s in sessions:
        last = s.last_attempt
        status: Cell = ""
        if last is not None:
            status = state("running" if not last.done else "success" if last.success
                           else "killed" if last.cancel_requested else "error")
        rows.append([s.id, s.project.name, s.workflow.name, session_text(s.session_time),
                     last.id if last else "", status, local(last.created_at) if last else ""])
    out.table(["SESSION", "PROJECT", "WORKFLOW", "SESSION TIME", "LAST ATTEMPT", "STATUS", "CREATED"],
              rows)


def _workflows_table(out: Out, workflows: Sequence[Workflow]) -> None:
    out.table(["PROJECT", "WORKFLOW", "ID", "REVISION", "TIMEZONE"],
              [[w.project.name, w.name, w.id, w.revision, w.timezone] for w in workflows])


def _started(out: Out, attempt: Attempt) -> None:
    if out.json:
        out.print_json(attempt.raw)
        return
    out.record("Started a session attempt", _attempt_pairs(attempt))
    click.echo(f"\n* Use `dockerflow attempt {attempt.id}` to show its status,"
               f" `dockerflow log {attempt.id} -f` to follow its logs.")


# -- projects ----------------------------------------------------------------------------------
@api_command("push")
@click.argument("project")
@click.option("--project", "folder", type=click.Path(file_okay=False, exists=True), default=".",
              help="The project folder (default: the current folder).")
@click.option("-r", "--revision", help="The new revision's name (default: a random UUID).")
@click.option("--schedule-from", metavar="TIME",
              help="Start new or changed schedules from TIME ('yyyy-MM-dd HH:mm:ss Z', e.g."
                   " '2024-05-01 00:00:00 +0900'; default: now).")
def push(api: Client, out: Out, project: str, folder: str, revision: str | None,
         schedule_from: str | None) -> None:
    """Upload a project folder as a new revision of PROJECT (as `digdag push` packs it)."""
    start = None
    if schedule_from is not None:
        try:
            start = datetime.strptime(schedule_from.strip(), "%Y-%m-%d %H:%M:%S %z")
        except ValueError:
            raise UserInputError(f"--schedule-from {schedule_from!r}: use 'yyyy-MM-dd HH:mm:ss Z',"
                                 " e.g. '2024-05-01 00:00:00 +0900'") from None
    pushed = api.push_project(project, Path(folder), revision, schedule_from=start)
    if out.json:
        out.print_json(pushed.raw)
        return
    out.record("Uploaded", [("id", pushed.id), ("name", pushed.name), ("revision", pushed.revision),
                            ("archive type", pushed.archive_type),
                            ("project created at", when(pushed.created_at)),
                            ("revision updated at", when(pushed.updated_at))])
    click.echo(f"\nUse `dockerflow workflows {pushed.name}` to show its workflows.")


@api_command("download")
@click.argument("project")
@click.option("-r", "--revision", help="The revision to download (default: the latest).")
@click.option("-o", "--output", type=click.Path(file_okay=False),
              help="The folder to unpack into, missing or empty (default: ./PROJECT).")
def download(api: Client, out: Out, project: str, revision: str | None, output: str | None) -> None:
    """Download a revision of PROJECT and unpack it into a folder."""
    from dockerflow.archive import unpack_archive

    found = api.get_project_by_name(project)
    data = api.download_project(found.id, revision)
    dest = Path(output or project)
    try:
        unpack_archive(data, dest)
    except (FileExistsError, NotADirectoryError):
        raise UserInputError(f"-o {dest}: it exists and is not an empty folder") from None
    if out.json:
        out.print_json(found.raw)
        return
    click.echo(f"Downloaded revision {revision or found.revision} of {found.name} into {dest}")


@api_command("delete")
@click.argument("project")
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
def delete(api: Client, out: Out, project: str, force: bool) -> None:
    """Delete PROJECT (its revisions and sessions stay readable by id)."""
    found = api.get_project_by_name(project)
    if not force and not click.confirm(f"Delete project {found.name!r} (id {found.id}, revision"
                                       f" {found.revision})?", err=True):
        click.echo("Not deleted.", err=True)
        sys.exit(1)
    deleted = api.delete_project(found.id)
    if out.json:
        out.print_json(deleted.raw)
        return
    click.echo(f"Project {deleted.name!r} (id {deleted.id}) is deleted.")


@api_command("projects")
@click.argument("name", required=False)
def projects(api: Client, out: Out, name: str | None) -> None:
    """List the projects, or show the project NAME."""
    if name:
        found = api.get_project_by_name(name)
        if out.json:
            out.print_json(found.raw)
            return
        out.record(None, [("id", found.id), ("name", found.name), ("revision", found.revision),
                          ("archive type", found.archive_type), ("archive md5", found.archive_md5 or ""),
                          ("created at", when(found.created_at)), ("updated at", when(found.updated_at))])
        return
    found_all = every_page(lambda last_id: api.get_projects(last_id=last_id))
    if out.json:
        out.print_json(_collection("projects", found_all))
        return
    out.table(["NAME", "ID", "REVISION", "UPDATED"],
              [[p.name, p.id, p.revision, local(p.updated_at)] for p in found_all])


@api_command("workflows")
@click.argument("project", required=False)
@click.argument("workflow", required=False)
@click.option("-r", "--revision", help="With PROJECT: that revision's workflows (default: the latest).")
def workflows(api: Client, out: Out, project: str | None, workflow: str | None,
              revision: str | None) -> None:
    """List the workflows (of PROJECT), or print the definition of WORKFLOW as YAML."""
    if project is None:
        if revision:
            raise click.UsageError("--revision needs PROJECT")
        found: list[Workflow] = every_page(lambda last_id: api.get_workflows(last_id=last_id))
    elif workflow is None:
        found = api.get_project_workflows(api.get_project_by_name(project).id, revision)
    else:
        one = api.get_project_workflow_by_name(api.get_project_by_name(project).id, workflow, revision)
        if out.json:
            out.print_json(one.raw)
            return
        import yaml

        click.echo(yaml.safe_dump(one.config, sort_keys=False, allow_unicode=True,
                                  default_flow_style=False), nl=False)
        return
    if out.json:
        out.print_json(_collection("workflows", found))
        return
    _workflows_table(out, found)


# -- attempts ----------------------------------------------------------------------------------
def _workflow_of(api: Client, project: str, workflow: str, revision: str | None) -> Workflow:
    return api.get_project_workflow_by_name(api.get_project_by_name(project).id, workflow, revision)


def resolve_session(api: Client, workflow: Workflow, value: str,
                    now: datetime | None = None) -> str:
    """`--session` as the API's session time: now, hourly and daily (truncated in the
    workflow's zone by the server, as Digdag does), a local `YYYY-MM-DD[ HH:MM:SS]` (read in
    the workflow's zone), or an ISO time with an offset or Z."""
    now = now or datetime.now(timezone.utc)
    if value == "now":
        return api_time(now)
    if value in ("hourly", "daily"):
        truncated = api.truncated_session_time(workflow.id, now, mode="hour" if value == "hourly" else "day")
        return str(truncated.raw["sessionTime"])
    local = None
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S"):
        try:
            local = datetime.strptime(value, fmt)
            break
        except ValueError:
            continue
    if local is None:
        text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise UserInputError(f"--session {value!r}: use now, hourly, daily, YYYY-MM-DD,"
                                 " 'YYYY-MM-DD HH:MM:SS' or an ISO time with an offset") from None
        if parsed.tzinfo is not None:
            return api_time(parsed)
        local = parsed
    truncated = api.truncated_session_time(workflow.id, local.replace(microsecond=0).isoformat())
    return str(truncated.raw["sessionTime"])


def _params(pairs: tuple[str, ...], files: tuple[str, ...]) -> dict[str, Any]:
    from dockerflow.cli.params import build_params

    return build_params(pairs, files)


@api_command("start")
@click.argument("project")
@click.argument("workflow")
@click.option("--session", required=True, metavar="TIME",
              help='now, hourly, daily, "YYYY-MM-DD", "YYYY-MM-DD HH:MM:SS" (in the workflow\'s'
                   " zone) or an ISO time with an offset.")
@click.option("--revision", help="Run the workflow of this revision (default: the latest).")
@click.option("--retry", "retry_name", metavar="NAME",
              help="A retry attempt name: a new attempt of a session that already has one.")
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Set a parameter (repeatable; a.b=c nests).")
@click.option("-P", "--params-file", "params_files", multiple=True, metavar="FILE",
              help="Read parameters from a YAML file.")
def start(api: Client, out: Out, project: str, workflow: str, session: str, revision: str | None,
          retry_name: str | None, params: tuple[str, ...], params_files: tuple[str, ...]) -> None:
    """Start an attempt of WORKFLOW of PROJECT on the server."""
    values = _params(params, params_files)
    definition = _workflow_of(api, project, workflow, revision)
    session_time = resolve_session(api, definition, session)
    try:
        attempt = api.start_attempt(definition.id, session_time, values, retry_name)
    except AttemptConflict as e:
        existing = e.attempt
        if out.json:
            out.print_json(existing.raw)
        _fail(f"session time {session_text(existing.session_time)} of {project}/{workflow} already"
              f" has an attempt (session id {existing.session_id}, attempt id {existing.id},"
              f" {existing.state}): use `dockerflow retry {existing.id}` or --retry NAME", 1)
    _started(out, attempt)


@api_command("retry")
@click.argument("attempt_id", metavar="ATTEMPT")
@click.option("--latest-revision", is_flag=True, help="Run the workflow of the latest revision.")
@click.option("--keep-revision", is_flag=True, help="Run the workflow of the attempt's revision.")
@click.option("--all", "rerun_all", is_flag=True, help="Run every task again.")
@click.option("--resume", is_flag=True, help="Run only the tasks that did not succeed.")
@click.option("--resume-from", metavar="+TASK", help="Run from this task on.")
@click.option("--name", help="The new attempt's retry name (default: a random UUID).")
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Set or override a parameter (repeatable).")
@click.option("-P", "--params-file", "params_files", multiple=True, metavar="FILE",
              help="Read parameters from a YAML file.")
def retry(api: Client, out: Out, attempt_id: str, latest_revision: bool, keep_revision: bool,
          rerun_all: bool, resume: bool, resume_from: str | None, name: str | None,
          params: tuple[str, ...], params_files: tuple[str, ...]) -> None:
    """Start a new attempt of ATTEMPT's session."""
    if latest_revision == keep_revision:
        raise click.UsageError("give one of --latest-revision or --keep-revision")
    modes = [m for m, on in (("--all", rerun_all), ("--resume", resume),
                             ("--resume-from", resume_from is not None)) if on]
    if len(modes) != 1:
        raise click.UsageError("give one of --all, --resume or --resume-from +TASK"
                               + (f" (not {' and '.join(modes)})" if modes else ""))
    values = _params(params, params_files)
    attempt = api.retry(_ids(attempt_id, "ATTEMPT"), name=name, resume="failed" if resume else None,
                        resume_from=resume_from, params=values,
                        revision="latest" if latest_revision else "keep")
    _started(out, attempt)


@api_command("kill")
@click.argument("attempt_id", metavar="ATTEMPT")
def kill(api: Client, out: Out, attempt_id: str) -> None:
    """Ask a running attempt to stop (its running tasks are stopped)."""
    attempt = api.kill(_ids(attempt_id, "ATTEMPT"))
    if out.json:
        out.print_json(attempt.raw)
        return
    click.echo(f"Kill requested for session attempt {attempt.id}")


@api_command("sessions")
@click.argument("project", required=False)
@click.argument("workflow", required=False)
@click.option("-i", "--last-id", help="Show the sessions older than this id.")
@click.option("-s", "--page-size", type=click.IntRange(1, 100), help="How many (at most 100).")
def sessions(api: Client, out: Out, project: str | None, workflow: str | None, last_id: str | None,
             page_size: int | None) -> None:
    """List the sessions, newest first (of PROJECT, of its WORKFLOW)."""
    project_id = api.get_project_by_name(project).id if project else None
    found = api.get_sessions(project_id=project_id, workflow=workflow, last_id=last_id,
                             page_size=page_size)
    if out.json:
        out.print_json(_collection("sessions", found))
        return
    _sessions_table(out, found)


@api_command("session")
@click.argument("session_id", metavar="ID")
def session(api: Client, out: Out, session_id: str) -> None:
    """Show a session and its attempts."""
    found = api.get_session(_ids(session_id, "ID"))
    if out.json:
        out.print_json(found.raw)
        return
    out.record(None, [("session id", found.id), ("uuid", found.session_uuid),
                      ("project", found.project.name), ("workflow", found.workflow.name),
                      ("session time", session_text(found.session_time))])
    click.echo()
    _attempts_table(out, api.get_session_attempts(found.id))


@api_command("attempts")
@click.argument("session_id", metavar="[SESSION]", required=False)
@click.option("-i", "--last-id", help="Show the attempts older than this id.")
@click.option("-s", "--page-size", type=click.IntRange(1, 100), help="How many (at most 100).")
def attempts(api: Client, out: Out, session_id: str | None, last_id: str | None,
             page_size: int | None) -> None:
    """List the attempts, newest first (of SESSION), retried ones included."""
    if session_id:
        found = api.get_session_attempts(_ids(session_id, "SESSION"), last_id=last_id,
                                         page_size=page_size)
    else:
        found = api.get_attempts(include_retried=True, last_id=last_id, page_size=page_size)
    if out.json:
        out.print_json(_collection("attempts", found))
        return
    _attempts_table(out, found)


@api_command("attempt")
@click.argument("attempt_id", metavar="ID")
def attempt(api: Client, out: Out, attempt_id: str) -> None:
    """Show an attempt."""
    found = api.get_attempt(_ids(attempt_id, "ID"))
    if out.json:
        out.print_json(found.raw)
        return
    out.record(None, _attempt_pairs(found))


@api_command("tasks")
@click.argument("attempt_id", metavar="ATTEMPT")
def tasks(api: Client, out: Out, attempt_id: str) -> None:
    """List the tasks of an attempt."""
    found = api.get_tasks(_ids(attempt_id, "ATTEMPT"))
    if out.json:
        out.print_json(_collection("tasks", found))
        return
    out.table(["ID", "NAME", "STATE", "STARTED", "UPDATED", "ERROR"],
              [[t.id, t.full_name, state(t.state), local(t.started_at), local(t.updated_at),
                str(t.error.get("message", "")).splitlines()[0] if t.error.get("message") else ""]
               for t in found])


@api_command("log")
@click.argument("attempt_id", metavar="ATTEMPT")
@click.argument("task", metavar="[+TASK]", required=False)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new output until the attempt is done.")
def log(api: Client, out: Out, attempt_id: str, task: str | None, follow: bool) -> None:
    """Print the task logs of an attempt (of the tasks whose name starts with +TASK)."""
    attempt_id = _ids(attempt_id, "ATTEMPT")
    if out.json:
        if follow:
            raise click.UsageError("--json and --follow can't be used together")
        out.print_json(_collection("files", api.get_log_files(attempt_id, task)))
        return
    LogPrinter(api, attempt_id, task).run(follow)


class LogPrinter:
    """Prints the logs' bytes once each: a file is read again when its size changed (on the
    last pass, once the attempt is done, every file is). A `==> +task <==` line comes before
    a file's output unless +TASK named exactly that task."""

    def __init__(self, api: Client, attempt_id: str, task: str | None) -> None:
        self.api = api
        self.attempt_id = attempt_id
        self.task = task
        self.sizes: dict[str, int] = {}
        self.shown: dict[str, int] = {}
        self.current: str | None = None

    def run(self, follow: bool) -> None:
        if not follow:
            self.one_pass(final=True)
            return
        while True:
            done = self.api.get_attempt(self.attempt_id).done  # before listing: nothing comes after
            self.one_pass(final=done)
            if done:
                return
            time.sleep(FOLLOW_POLL)

    def one_pass(self, final: bool) -> None:
        for f in self.api.get_log_files(self.attempt_id, self.task):
            if not final and self.sizes.get(f.file_name) == f.file_size:
                continue
            self.sizes[f.file_name] = f.file_size
            data = self.api.get_log_bytes(self.attempt_id, f.file_name)
            start = self.shown.get(f.file_name, 0)
            if len(data) < start:  # the log was started again
                start = 0
            if len(data) == start:
                continue
            if self.current != f.file_name and f.task_name != self.task:
                click.echo(f"==> {f.task_name} <==")
            self.current = f.file_name
            click.echo(data[start:], nl=False)
            self.shown[f.file_name] = len(data)


@api_command("version")
def version(api: Client, out: Out) -> None:
    """Show the client's version and the server's."""
    from dockerflow import __version__

    if not out.json:
        click.echo(f"Client version: {__version__}")
    found = api.version()
    if out.json:
        out.print_json({"client": __version__, **found.raw})
        return
    click.echo(f"Server version: {found.version}" + (f" ({found.server})" if found.server else ""))
