"""`dockerflow images build [--base IMAGE]`: build the runner images of dockerflow/runner_images/."""

from __future__ import annotations

import click

from dockerflow.errors import DockerflowError, EngineUnavailable


@click.group("images")
def images() -> None:
    """Manage dockerflow's runner images (dockerflow/python, ...)."""


@images.command("build")
@click.option(
    "--base",
    metavar="IMAGE",
    default=None,
    help="Debian base image (default: dockerflow/debian-base:bookworm, bootstrapped offline when missing).",
)
def build(base: str | None) -> None:
    """Build every runner image (dockerflow/runner_images/<name>/Dockerfile) as dockerflow/<name>:latest."""
    from dockerflow.images import build_runner_images  # the SDK only when asked for

    try:
        tags = build_runner_images(base=base, on_output=click.echo)
    except EngineUnavailable:
        raise  # exit status 3 (cli/main.py)
    except DockerflowError as exc:
        raise click.ClickException(str(exc)) from exc
    for tag in tags:
        click.echo(f"built {tag}")
