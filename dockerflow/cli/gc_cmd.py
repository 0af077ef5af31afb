"""`dockerflow gc`: remove containers left behind by dockerflow processes that died."""

from __future__ import annotations

import click

from dockerflow.errors import DockerflowError, EngineUnavailable


@click.command("gc")
def gc() -> None:
    """Remove this host's dockerflow containers whose owner process is gone."""
    from dockerflow.executors.docker import reap_orphans  # the SDK only when asked for

    try:
        removed = reap_orphans()
    except EngineUnavailable:
        raise  # exit status 3 (cli/main.py)
    except DockerflowError as exc:
        raise click.ClickException(str(exc)) from exc
    for container_id in removed:
        click.echo(f"removed {container_id[:12]}")
    click.echo(f"{len(removed)} orphan container(s) removed")
