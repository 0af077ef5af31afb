"""The `dockerflow` command: parse, call the library, render. Exit status: 0 success,
1 a task failed, 2 the input was refused, 128+N stopped by signal N."""

from __future__ import annotations

import sys

import click

from dockerflow import __version__
from dockerflow.cli.check_cmd import check
from dockerflow.cli.gc_cmd import gc
from dockerflow.cli.images_cmd import images
from dockerflow.cli.init_cmd import init
from dockerflow.cli.run_cmd import run
from dockerflow.cli.secrets_cmd import secrets
from dockerflow.errors import UserInputError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dockerflow")
def cli() -> None:
    """A Digdag-compatible workflow engine that runs tasks in Docker."""


cli.add_command(run)
cli.add_command(check)
cli.add_command(init)
cli.add_command(images)
cli.add_command(gc)
cli.add_command(secrets)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except UserInputError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(2)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
