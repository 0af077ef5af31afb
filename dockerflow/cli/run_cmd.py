"""`dockerflow run`: run a workflow locally, resuming from saved results."""

from __future__ import annotations

import functools
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from dockerflow.cli.params import build_params, resolve_session
from dockerflow.config import load_config
from dockerflow.dig.workflow import check_task_count, load_workflow
from dockerflow.errors import UserInputError
from dockerflow.executors.base import Executor
from dockerflow.graph.scheduler import TooManyTasks
from dockerflow.pathnames import LOCK_FILE, workflow_path
from dockerflow.runtime.coordinator import RunOptions, RunSummary
from dockerflow.runtime.local import LocalAttempt, LocalEngine, local_store
from dockerflow.runtime.progress import RunOutput, make_reporter
from dockerflow.runtime.selection import Selection, find_task
from dockerflow.secrets import LocalSecrets
from dockerflow.timeutil import iso_offset


def docker_factory(locked: Mapping[str, str] | None = None, strict_lock: bool = False) -> Executor:
    """The Docker executor, made on the first task that needs it (host-only runs never
    connect); it first removes containers left by dockerflow processes that died.
    `locked`: image name -> id of dockerflow.lock; `strict_lock`: run --locked."""
    from dockerflow.executors.docker import DockerExecutor

    executor = DockerExecutor(locked=locked, strict_lock=strict_lock)
    executor.reap_orphans()
    return executor

def _selection(args: dict[str, Any], root: Any) -> Selection:
    chosen = [k for k in ("start", "goal", "end") if args[k]]
    if len(chosen) > 1:
        raise UserInputError(f"--{chosen[0]} and --{chosen[1]} can't be used together")
    if chosen and args["rerun"]:
        raise UserInputError(f"--rerun and --{chosen[0]} can't be used together")
    try:
        if chosen:
            return Selection(chosen[0], find_task(root, args[chosen[0]]))
        if args["task"]:
            return Selection("only", find_task(root, args["task"]))
    except LookupError as e:
        raise UserInputError(str(e)) from None
    return Selection("rerun" if args["rerun"] else "all")

@click.command("run")
@click.argument("workflow")
@click.argument("task", required=False)
@click.option("--project", type=click.Path(file_okay=False), default=".",
              help="Project folder (default: the current folder).")
@click.option("-t", "--session", help='daily, hourly, last (default), or "YYYY-MM-DD[ HH:MM:SS]".')
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Set a parameter (repeatable; a.b=c nests).")
@click.option("-P", "--params-file", "params_files", multiple=True, metavar="FILE",
              help="Read parameters from a YAML file.")
@click.option("-c", "--config", "config_file", metavar="FILE",
              help="Digdag's configuration file: params.*, secrets.* (default:"
                   " ~/.config/dockerflow/config, else ~/.config/digdag/config).")
@click.option("-a", "--rerun", is_flag=True, help="Ignore saved results and run every task.")
@click.option("-s", "--start", metavar="+TASK", help="Run from this task on.")
@click.option("-g", "--goal", metavar="+TASK", help="Run only this task and what it contains.")
@click.option("-e", "--end", metavar="+TASK", help="Stop before this task.")
@click.option("-d", "--dry-run", is_flag=True, help="Show what would run without running it.")
@click.option("--max-task-threads", type=click.IntRange(1), default=32, show_default=True)
@click.option("--max-tasks", type=click.IntRange(1), default=100_000, show_default=True,
              help="Refuse attempts with more tasks than this.")
@click.option("--no-cache", is_flag=True,
              help="Run tasks that have _cache instead of restoring their cached results"
                   " (the cache entries are refreshed).")
@click.option("--locked", is_flag=True,
              help="Refuse to start unless every image is present with its id in dockerflow.lock.")
@click.option("--junit", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write a JUnit XML report, a test case per task (also when the run fails"
                   " or is stopped).")
@click.option("--database", metavar="URL",
              help="Coordinate the attempt through this database (sqlite:///path or"
                   " postgresql://...) so that `dockerflow worker` processes run its tasks.")
@click.option("--workers", type=click.IntRange(0), default=None,
              help="With --database: workers in this process (default 1); 0 leaves every task"
                   " to `dockerflow worker` processes.")
@click.option("-q", "--quiet", is_flag=True,
              help="Show only failures (with their last output lines) and the summary.")
@click.option("-v", "--verbose", is_flag=True,
              help="Also show debug lines: task starts and skips, each task's duration.")
def run(**args: Any) -> None:
    """Run WORKFLOW (a .dig file) locally; a second run of the same session resumes."""
    config = load_config(args["config_file"])  # refused (exit 2) before anything else
    project = Path(args["project"]).resolve()
    path = workflow_path(project, args["workflow"])
    if args["quiet"] and args["verbose"]:
        raise UserInputError("--quiet and --verbose can't be used together")
    reporter = make_reporter(quiet=args["quiet"], verbose=args["verbose"])  # live on a terminal
    warnings: list[str] = []
    workflow = load_workflow(path, project, warnings=warnings)
    check_task_count(workflow, args["max_tasks"])
    for w in warnings:
        reporter.warning(w)
    selection = _selection(args, workflow.root)
    attempt_params = build_params(args["params"], args["params_files"], base=config.params)
    secrets = {**config.secrets, **LocalSecrets().values()}  # the local store wins, as in Digdag
    lock = None
    if args["locked"] or (project / LOCK_FILE).exists():  # --locked: refused here (exit 2)
        from dockerflow.cli.lock_cmd import locked_images

        lock = locked_images(project, path, strict=args["locked"])
    factory = functools.partial(docker_factory, locked=lock.ids if lock else None, strict_lock=args["locked"])
    if args["workers"] is not None and not args["database"]:
        raise UserInputError("--workers needs --database URL (without it, tasks run in this"
                             " process: see --max-task-threads)")
    store = open_database(args["database"]) if args["database"] else local_store(project)
    session_time = resolve_session(args["session"], workflow.timezone, workflow.schedule,
                                   store.last_session_time(workflow.name))
    options = RunOptions(selection=selection, dry_run=args["dry_run"],
                         max_task_threads=args["max_task_threads"], max_tasks=args["max_tasks"],
                         cache=not args["no_cache"])
    consumers = None
    if args["database"]:
        from dockerflow.runtime.consumer import pack_project
        from dockerflow.runtime.queue import StoreQueue

        engine = LocalEngine(project, store, reporter, options, factory, secrets,
                             queue=lambda worker: StoreQueue(store, worker, show=reporter.task_output),
                             archive=store.put_archive(pack_project(project, store.url)))
        consumers = _Consumers(args["database"], engine, args["workers"], options)
    else:
        engine = LocalEngine(project, store, reporter, options, factory, secrets)
    reporter.info(f"Running {path.name} (session {iso_offset(session_time)})"
                  + (f" through {_safe_url(args['database'])}" if args["database"] else ""))
    try:
        try:
            attempt = engine.start(workflow, session_time, attempt_params)
        except TooManyTasks as e:
            raise UserInputError(str(e)) from None
        if consumers is not None:
            consumers.start()
        with RunOutput(reporter, attempt.coordinator, args["junit"],  # the display; --junit
                       {"session_time": iso_offset(session_time)}) as output:
            summary = output.summary = _run_with_signals(attempt)
    finally:
        if consumers is not None:
            consumers.stop()
        engine.close()
        store.close()
    _report(summary, args, session_time)


def open_database(url: str) -> Any:
    from dockerflow.store import open_store

    return open_store(url)


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


class _Consumers:
    """`run --database URL --workers N`: N workers in this process claim the attempt's tasks
    (and any other attempt's) from the database, each on its own store connection."""

    def __init__(self, url: str, engine: LocalEngine, count: int | None,
                 options: RunOptions) -> None:
        self.url = url
        self.engine = engine
        self.count = 1 if count is None else count
        self.options = options
        self.stop_flag = threading.Event()
        self.threads: list[threading.Thread] = []
        self.stores: list[Any] = []

    def start(self) -> None:
        from dockerflow.runtime.consumer import Consumer

        for _ in range(self.count):
            store = open_database(self.url)
            self.stores.append(store)
            consumer = Consumer(store, self.engine.worker, max_threads=self.options.max_task_threads)
            thread = threading.Thread(target=consumer.run, args=(self.stop_flag,), daemon=True,
                                      name="consumer")
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        self.stop_flag.set()
        for thread in self.threads:
            thread.join(30)
        for store in self.stores:
            store.close()


def _run_with_signals(attempt: LocalAttempt) -> RunSummary:
    def handler(signum: int, _frame: Any) -> None:
        attempt.coordinator.interrupt(signum)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return attempt.run()
    finally:
        for s, h in old.items():
            signal.signal(s, h)

def _say(text: str) -> None:
    """The closing lines on stderr; a reader that went away must not change the exit status."""
    try:
        click.echo(text, err=True)
    except OSError:
        pass


def _report(summary: RunSummary, args: dict[str, Any], session_time: Any) -> None:
    reruns = summary.engine_reruns
    rerun_note = f" {reruns} re-run{'' if reruns == 1 else 's'} after the engine restarted," \
        if reruns else ""
    counts = f"{summary.ran} run, {summary.skipped} skipped, {len(summary.failed)} failed," \
             f"{rerun_note} {summary.seconds:.2f}s"
    images = None
    if summary.images:
        from dockerflow.imagelock import images_line

        images = images_line(summary.images)
    if summary.killed:
        _say(f"Killed: a kill request for this attempt was written to the database ({counts})."
             " Task state is saved: run the same command again to resume.")
        sys.exit(1)
    if summary.interrupted:
        name = signal.Signals(summary.interrupted).name
        _say(f"Stopped by {name} ({counts}). Task state is saved: run the same command"
             " again to resume.")
        if images:
            _say(images)
        sys.exit(128 + summary.interrupted)
    if summary.success:
        _say(f"Success ({counts}).")
        if images:
            _say(images)
        return
    lines = [f"Failed ({counts}):"]
    for name, message in summary.failed:
        lines.append(f"  * {name}:")
        lines.extend("    " + line for line in message.splitlines())
    session = session_time.strftime("%Y-%m-%d %H:%M:%S")
    cmd = " ".join(["dockerflow", "run", args["workflow"], "--session", f'"{session}"'])
    lines.append(f"Fix the problem, then run `{cmd}` to resume: tasks that succeeded are"
                 " skipped. Add --rerun to run every task again.")
    if images:
        lines.append(images)
    _say("\n".join(lines))
    # 3: a task could not run because the Docker engine was unavailable (cli/main.py).
    sys.exit(3 if any(name in summary.engine_unavailable for name, _ in summary.failed) else 1)

