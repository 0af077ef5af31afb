"""`dockerflow secrets --local`: set, delete and list local secrets (values never shown)."""

from __future__ import annotations

import click

from dockerflow.errors import UserInputError
from dockerflow.secrets import LocalSecrets


@click.command("secrets")
@click.option("--local", is_flag=True, required=True,
              help="Use the local secret store (the only one until the server lands).")
@click.option("--set", "to_set", multiple=True, metavar="KEY[=VALUE]",
              help="Set a secret; without =VALUE the value is asked for, hidden.")
@click.option("--delete", "to_delete", multiple=True, metavar="KEY", help="Delete a secret.")
def secrets(local: bool, to_set: tuple[str, ...], to_delete: tuple[str, ...]) -> None:
    """Manage secrets that tasks read as ${secret:KEY}; with no action, list the keys."""
    store = LocalSecrets()
    for item in to_set:
        key, sep, value = item.partition("=")
        if not sep:
            value = click.prompt(f"Value of secret '{key}'", hide_input=True)
        store.set(key, value)
        click.echo(f"Secret '{key}' set")
    for key in to_delete:
        if not store.delete(key):
            raise UserInputError(f"no secret '{key}' to delete")
        click.echo(f"Secret '{key}' deleted")
    if not to_set and not to_delete:
        for key in store.keys():
            click.echo(key)
