"""The `dockerflow` command: parse, call the library, render.

Exit status:
    0      success
    1      a task failed
    2      the input was refused (a bad .dig file, flag or parameter)
    3      the Docker engine is unavailable: `gc` or `images build` could not reach it, or a
           `run` failed because a docker task could not reach it (one line says how to start it);
           for the client commands (push, start, log...): no dockerflow server answers
    128+N  stopped by signal N
"""

from __future__ import annotations

import gc
import importlib
import sys

import click

from dockerflow import __version__
from dockerflow.errors import EngineUnavailable, UserInputError

# Each command's module is imported only when that command runs (or for --help): a run does
# not pay for the imports of graph, lock, cache...
COMMANDS = {
    "run": "dockerflow.cli.run_cmd:run",
    "check": "dockerflow.cli.check_cmd:check",
    "graph": "dockerflow.cli.graph_cmd:graph",
    "init": "dockerflow.cli.init_cmd:init",
    "images": "dockerflow.cli.images_cmd:images",
    "gc": "dockerflow.cli.gc_cmd:gc",
    "secrets": "dockerflow.cli.secrets_cmd:secrets",
    "cache": "dockerflow.cli.cache_cmd:cache",
    "lock": "dockerflow.cli.lock_cmd:lock",
    "worker": "dockerflow.cli.worker_cmd:worker",
    "server": "dockerflow.cli.server_cmd:server",
    "push": "dockerflow.cli.client_cmd:push",
    "download": "dockerflow.cli.client_cmd:download",
    "delete": "dockerflow.cli.client_cmd:delete",
    "projects": "dockerflow.cli.client_cmd:projects",
    "workflows": "dockerflow.cli.client_cmd:workflows",
    "start": "dockerflow.cli.client_cmd:start",
    "retry": "dockerflow.cli.client_cmd:retry",
    "kill": "dockerflow.cli.client_cmd:kill",
    "sessions": "dockerflow.cli.client_cmd:sessions",
    "session": "dockerflow.cli.client_cmd:session",
    "attempts": "dockerflow.cli.client_cmd:attempts",
    "attempt": "dockerflow.cli.client_cmd:attempt",
    "tasks": "dockerflow.cli.client_cmd:tasks",
    "log": "dockerflow.cli.client_cmd:log",
    "version": "dockerflow.cli.client_cmd:version",
    "schedules": "dockerflow.cli.schedule_cmd:schedules",
    "disable": "dockerflow.cli.schedule_cmd:disable",
    "enable": "dockerflow.cli.schedule_cmd:enable",
    "backfill": "dockerflow.cli.schedule_cmd:backfill",
    "reschedule": "dockerflow.cli.schedule_cmd:reschedule",
}


class LazyGroup(click.Group):
    """A group whose commands are `module:attribute` names, imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dockerflow")
def cli() -> None:
    """A Digdag-compatible workflow engine that runs tasks in Docker."""


# The loader, compiler and scheduler walk the task tree recursively, a few frames a level;
# YAML itself stops at about 1000 levels, so this lets every tree it accepts run.
RECURSION_LIMIT = 20_000


def main() -> None:
    sys.setrecursionlimit(max(sys.getrecursionlimit(), RECURSION_LIMIT))
    # Loading a big .dig builds a large YAML tree, and a run keeps its tasks until it ends:
    # frequent full collections over such heaps make both superlinear, so this program (not
    # the library) collects less often.
    gc.set_threshold(50_000, 20, 100)
    try:
        cli.main(standalone_mode=False)
    except UserInputError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    except EngineUnavailable as e:  # gc, images build: not bad input, an engine to start
        click.echo(f"error: {e}", err=True)
        sys.exit(3)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as e:  # usage errors are 2; a command that failed (a build) is 1
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
