"""`dockerflow images build [--base IMAGE]`: build the runner images under images/."""

from __future__ import annotations

import click

from dockerflow.errors import DockerflowError
from dockerflow.images import DEFAULT_BASE, build_runner_images


@click.group("images")
def images() -> None:
    """Manage dockerflow's runner images (dockerflow/python, ...)."""


@images.command("build")
@click.option(
    "--base",
    metavar="IMAGE",
    default=None,
    help=f"Debian base image (default: {DEFAULT_BASE}, bootstrapped offline when missing).",
)
def build(base: str | None) -> None:
    """Build every images/<name>/Dockerfile as dockerflow/<name>:latest."""
    try:
        tags = build_runner_images(base=base, on_output=click.echo)
    except DockerflowError as exc:
        raise click.ClickException(str(exc)) from exc
    for tag in tags:
        click.echo(f"built {tag}")
