"""`dockerflow server`: Digdag's REST API over a database (SQLite by default, or PostgreSQL)."""

from __future__ import annotations

import ipaddress
import os
import threading
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


def database_url(settings: dict[str, str], source: str) -> str | None:
    """Digdag's `database.*` settings (type postgresql with host, port, user, password,
    database), or our `database.url`."""
    if "database.url" in settings:
        return settings["database.url"]
    kind = settings.get("database.type")
    if kind is None:
        return None
    if kind == "sqlite":
        path = settings.get("database.path")
        if not path:
            raise UserInputError(f"{source}: database.type = sqlite needs database.path")
        return str(Path(path).expanduser())
    if kind != "postgresql":
        raise UserInputError(f"{source}: database.type must be postgresql or sqlite, got {kind!r}"
                             " (or set database.url)")
    from urllib.parse import quote

    user = settings.get("database.user", "")
    password = settings.get("database.password")
    auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    host = settings.get("database.host", "localhost")
    port = settings.get("database.port", "5432")
    name = settings.get("database.database", user or "digdag")
    return f"postgresql://{auth + '@' if auth else ''}{host}:{port}/{quote(name, safe='')}"


@click.command("server")
@click.option("-c", "--config", "config_file", metavar="FILE",
              help="Digdag's configuration file: server.bind, server.port, database.*,"
                   " digdag.secret-encryption-key, api.max_archive_total_size_limit, secrets.*,"
                   " notification.*; options given on the command line win.")
@click.option("--bind", help="Address to listen on.  [default: 127.0.0.1]")
@click.option("--port", type=click.IntRange(0, 65535), help="[default: 65432]")
@click.option("--database", metavar="URL",
              help="sqlite:///path or postgresql://... (default: server.db in"
                   " $XDG_DATA_HOME/dockerflow or ~/.local/share/dockerflow).")
@click.option("--max-archive-size", metavar="SIZE",
              help="Largest project archive a push may send.  [default: 2MiB]")
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
@click.option("-O", "--task-log", type=click.Path(file_okay=False), metavar="DIR",
              help="Keep task logs as files in DIR (default: in the database).")
@click.option("--disable-scheduler", is_flag=True,
              help="Start no scheduled sessions in this process (another server on the same"
                   " database does).")
@click.option("--allow-unauthenticated", is_flag=True,
              help="Listen on a non-loopback address without --auth.")
def server(**args: Any) -> None:
    """Serve Digdag's REST API (projects, workflows, ...) at http://BIND:PORT/api/."""
    import uvicorn

    from dockerflow.cli.run_cmd import docker_factory
    from dockerflow.config import load_config
    from dockerflow.executors.host import HostExecutor
    from dockerflow.notify import notifier_from_config
    from dockerflow.runtime.worker import TaskWorker
    from dockerflow.secrets import ProjectSecrets, load_cipher
    from dockerflow.server.app import ServerSettings, create_app
    from dockerflow.server.auth import load_auth
    from dockerflow.server.engine import ServerEngine
    from dockerflow.server.scheduler import Scheduler
    from dockerflow.store import open_store

    config = load_config(args["config_file"]) if args["config_file"] else None
    settings = config.settings if config is not None else {}
    source = f"-c {args['config_file']}"
    args["bind"] = args["bind"] or settings.get("server.bind", "127.0.0.1")
    if args["port"] is None:
        port = settings.get("server.port", "65432")
        if not port.isdigit() or int(port) > 65535:
            raise UserInputError(f"{source}: server.port must be a port number, got {port!r}")
        args["port"] = int(port)
    args["database"] = args["database"] or database_url(settings, source)
    if args["max_archive_size"] is None:
        args["max_archive_size"] = settings.get("api.max_archive_total_size_limit", "2MiB")
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
    notifier = notifier_from_config(settings)
    cipher = load_cipher(settings, data_dir() / "secret.key", create=True)
    url = args["database"] or str(data_dir() / "server.db")
    store = open_store(url)
    task_log = Path(args["task_log"]) if args["task_log"] else None
    if task_log is not None:
        store.keep_logs_in(task_log)
    work = Path(args["work_dir"]) if args["work_dir"] else data_dir() / "work"
    secrets = ProjectSecrets(store, cipher, config.secrets if config is not None else None)
    engine = ServerEngine(store, store.url, work,
                          make_worker=lambda events: TaskWorker(events, HostExecutor(), docker_factory,
                                                                secrets, param_store=store,
                                                                notifier=notifier),
                          workers=args["workers"], max_task_threads=args["max_task_threads"],
                          lease_seconds=lease, failure_alert=notifier is not None,
                          task_log=task_log)
    app = create_app(store, ServerSettings(max_archive_bytes=max_bytes, auth=auth, cipher=cipher),
                     engine)
    stop = threading.Event()
    scheduling: threading.Thread | None = None
    if not args["disable_scheduler"]:
        scheduler_store = open_store(store.url)
        scheduler = Scheduler(scheduler_store, engine.run_stored, engine.owner, lease)
        scheduling = threading.Thread(target=scheduler.run, args=(stop,), daemon=True,
                                      name="scheduler")
        scheduling.start()
    click.echo(f"dockerflow server: http://{args['bind']}:{args['port']}/api/ (database {store.url})",
               err=True)
    try:
        uvicorn.run(app, host=args["bind"], port=args["port"], log_level="warning",
                    access_log=False)
    finally:
        stop.set()
        if scheduling is not None:
            scheduler.stop_listening()
            scheduling.join(30)
            scheduler_store.close()
        engine.close()
        store.close()
