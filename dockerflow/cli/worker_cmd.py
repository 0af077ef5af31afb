"""`dockerflow worker`: run the tasks of attempts coordinated through a database."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from dockerflow.config import load_config
from dockerflow.errors import UserInputError
from dockerflow.secrets import LocalSecrets, ProjectSecrets, load_cipher
from dockerflow.timeutil import parse_duration


@click.command("worker")
@click.option("--database", required=True, metavar="URL",
              help="The database the attempts are coordinated through (sqlite:///path or"
                   " postgresql://user@host:port/db), as given to `run --database`.")
@click.option("--max-task-threads", type=click.IntRange(1), default=32, show_default=True,
              help="Tasks this worker runs at once.")
@click.option("--lease", default="30s", show_default=True, metavar="DURATION",
              help="How long a claimed task stays this worker's without a heartbeat; after"
                   " that (the worker died) another worker runs it again.")
@click.option("-O", "--task-log", type=click.Path(file_okay=False), metavar="DIR",
              help="Keep task logs as files in DIR, the server's --task-log (default: in the"
                   " database).")
@click.option("-c", "--config", "config_file", metavar="FILE",
              help="Configuration file for secrets.* and digdag.secret-encryption-key, the"
                   " server's key for its projects' secrets (default:"
                   " ~/.config/dockerflow/config; the key defaults to the server's secret.key"
                   " in its data folder, on the same machine).")
def worker(**args: Any) -> None:
    """Claim and run tasks from the database until stopped (Ctrl-C or SIGTERM: running tasks
    are stopped and handed back for another worker)."""
    from dockerflow.cli.run_cmd import docker_factory, open_database
    from dockerflow.cli.server_cmd import data_dir
    from dockerflow.executors.host import HostExecutor
    from dockerflow.notify import notifier_from_config
    from dockerflow.runtime.consumer import Consumer, StoreEvents
    from dockerflow.runtime.worker import TaskWorker

    config = load_config(args["config_file"])
    try:
        lease = parse_duration(args["lease"], bare_seconds=True)
    except ValueError as e:
        raise UserInputError(f"--lease: {e}") from None
    if lease < 1:
        raise UserInputError(f"--lease must be at least 1s, got {args['lease']}")
    store = open_database(args["database"])
    if args["task_log"]:
        store.keep_logs_in(Path(args["task_log"]))
    cipher = load_cipher(config.settings, data_dir() / "secret.key", create=False)
    secrets = ProjectSecrets(store, cipher, {**config.secrets, **LocalSecrets().values()})
    events = StoreEvents(store, say=lambda text: click.echo(text, err=True))
    task_worker = TaskWorker(events, HostExecutor(), docker_factory, secrets, param_store=store,
                             notifier=notifier_from_config(config.settings))
    consumer = Consumer(store, task_worker, max_threads=args["max_task_threads"],
                        lease_seconds=lease)
    stop = threading.Event()
    stopped_by: list[int] = []

    def handler(signum: int, _frame: Any) -> None:
        if stop.is_set():  # a second signal: leave now
            sys.exit(128 + signum)
        stopped_by.append(signum)
        stop.set()
        consumer.wake()

    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, handler)
    click.echo(f"dockerflow worker {consumer.owner}: waiting for tasks"
               f" (up to {args['max_task_threads']} at once)", err=True)
    try:
        consumer.run(stop)
    finally:
        events.flush()
        task_worker.close()
        store.close()
    click.echo(f"dockerflow worker {consumer.owner}: stopped after {consumer.ran} tasks", err=True)
    if stopped_by:
        sys.exit(128 + stopped_by[0])
