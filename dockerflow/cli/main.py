"""The `dockerflow` command: parse, call the library, render.

Exit status:
    0      success
    1      a task failed
    2      the input was refused (a bad .dig file, flag or parameter)
    3      the Docker engine is unavailable: `gc` or `images build` could not reach it, or a
           `run` failed because a docker task could not reach it (one line says how to start it)
    128+N  stopped by signal N
"""

from __future__ import annotations

import sys

import click

from dockerflow import __version__
from dockerflow.cli.cache_cmd import cache
from dockerflow.cli.check_cmd import check
from dockerflow.cli.gc_cmd import gc
from dockerflow.cli.graph_cmd import graph
from dockerflow.cli.images_cmd import images
from dockerflow.cli.init_cmd import init
from dockerflow.cli.lock_cmd import lock
from dockerflow.cli.run_cmd import run
from dockerflow.cli.secrets_cmd import secrets
from dockerflow.errors import EngineUnavailable, UserInputError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dockerflow")
def cli() -> None:
    """A Digdag-compatible workflow engine that runs tasks in Docker."""


cli.add_command(run)
cli.add_command(check)
cli.add_command(graph)
cli.add_command(init)
cli.add_command(images)
cli.add_command(gc)
cli.add_command(secrets)
cli.add_command(cache)
cli.add_command(lock)


# The loader, compiler and scheduler walk the task tree recursively, a few frames a level;
# YAML itself stops at about 1000 levels, so this lets every tree it accepts run.
RECURSION_LIMIT = 20_000


def main() -> None:
    sys.setrecursionlimit(max(sys.getrecursionlimit(), RECURSION_LIMIT))
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
