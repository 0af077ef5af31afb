"""`dockerflow server`: Digdag's REST API over a database (SQLite by default, or PostgreSQL)."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any

import click

from dockerflow.errors import UserInputError
from dockerflow.timeutil import parse_duration
from dockerflow.units import parse_size


def data_dir() -> Path:
    """Where the server keeps its embedded database: $XDG_DATA_HOME/dockerflow, else
    ~/.local/share/dockerflow."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "dockerflow"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command("server")
@click.option("--bind", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=65432, show_default=True)
@click.option("--database", metavar="URL",
              help="sqlite:///path or postgresql://... (default: server.db in"
                   " $XDG_DATA_HOME/dockerflow or ~/.local/share/dockerflow).")
@click.option("--max-archive-size", default="2MiB", show_default=True, metavar="SIZE",
              help="Largest project archive a push may send.")
@click.option("--workers", type=click.IntRange(0), default=1, show_default=True,
              help="Workers in this process that run the tasks of attempts; 0 leaves them to"
                   " `dockerflow worker` processes on the same database.")
@click.option("--max-task-threads", type=click.IntRange(1), default=32, show_default=True,
              help="Tasks each worker of this process runs at once.")
@click.option("--work-dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Where attempts unpack their project (default: work/ beside the data).")
@click.option("--lease", default="30s", show_default=True, metavar="DURATION",
              help="How long this server's hold on an attempt (and its workers' on a task) lasts"
                   " without a heartbeat; then another server (worker) carries it on.")
@click.option("--auth", type=click.Choice(["token", "basic"]),
              help="Require credentials for everything but /api/version: a bearer token, or"
                   " HTTP basic users.")
@click.option("--auth-file", type=click.Path(dir_okay=False), metavar="FILE",
              help="With --auth: the token (its first line), or user:password lines.")
@click.option("--allow-unauthenticated", is_flag=True,
              help="Listen on a non-loopback address without --auth.")
def server(**args: Any) -> None:
    """Serve Digdag's REST API (projects, workflows, ...) at http://BIND:PORT/api/."""
    import uvicorn

    from dockerflow.cli.run_cmd import docker_factory
    from dockerflow.executors.host import HostExecutor
    from dockerflow.runtime.worker import TaskWorker
    from dockerflow.server.app import ServerSettings, create_app
    from dockerflow.server.auth import load_auth
    from dockerflow.server.engine import ServerEngine
    from dockerflow.store import open_store

    auth = load_auth(args["auth"], args["auth_file"]) if args["auth"] else None
    if args["auth_file"] and not args["auth"]:
        raise UserInputError("--auth-file needs --auth token or --auth basic")
    if auth is None and not is_loopback(args["bind"]) and not args["allow_unauthenticated"]:
        raise UserInputError(f"--bind {args['bind']} is not a loopback address and --auth is not"
                             " set: anyone who reaches the API could run tasks. Use --auth token"
                             " (or basic) with --auth-file, bind 127.0.0.1, or pass"
                             " --allow-unauthenticated if the network is yours")
    try:
        max_bytes = parse_size(args["max_archive_size"], "--max-archive-size")
        lease = parse_duration(args["lease"], bare_seconds=True)
    except ValueError as e:
        raise UserInputError(str(e)) from None
    if lease < 1:
        raise UserInputError(f"--lease must be at least 1s, got {args['lease']}")
    url = args["database"] or str(data_dir() / "server.db")
    store = open_store(url)
    work = Path(args["work_dir"]) if args["work_dir"] else data_dir() / "work"
    engine = ServerEngine(store, store.url, work,
                          make_worker=lambda events: TaskWorker(events, HostExecutor(), docker_factory),
                          workers=args["workers"], max_task_threads=args["max_task_threads"],
                          lease_seconds=lease)
    app = create_app(store, ServerSettings(max_archive_bytes=max_bytes, auth=auth), engine)
    click.echo(f"dockerflow server: http://{args['bind']}:{args['port']}/api/ (database {store.url})",
               err=True)
    try:
        uvicorn.run(app, host=args["bind"], port=args["port"], log_level="warning",
                    access_log=False)
    finally:
        engine.close()
        store.close()
