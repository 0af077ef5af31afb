"""`dockerflow secrets`: set, delete and list secrets (values are never shown).

    secrets --local [--set KEY[=VALUE]] [--delete KEY]      this machine's, for `run`
    secrets --project P [--set ...] [--delete KEY]          a server project's (-e ENDPOINT)

`--set` takes, as Digdag's client: `KEY` (the value is asked for, hidden), `KEY=VALUE`,
`KEY=@FILE` (the file's content), `@FILE.json` (a JSON object of keys and values) or `-`
(such a JSON object on standard input).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from dockerflow.cli.client_cmd import Out, api_command
from dockerflow.client import Client
from dockerflow.errors import UserInputError
from dockerflow.secrets import LocalSecrets


def _json_values(text: str, source: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserInputError(f"{source}: not JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise UserInputError(f'{source}: expected a JSON object of string values, like {{"key": "value"}}')
    return {str(k): v for k, v in data.items()}


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise UserInputError(f"{what}: cannot read {path}: {e.strerror or e}") from None


def values_to_set(items: tuple[str, ...]) -> dict[str, str]:
    """The `--set` arguments as key -> value (asking for the ones given without a value)."""
    out: dict[str, str] = {}
    for item in items:
        if item == "-":
            out.update(_json_values(sys.stdin.read(), "--set - (standard input)"))
        elif item.startswith("@"):
            out.update(_json_values(_read(item[1:], f"--set {item}"), item[1:]))
        else:
            key, sep, value = item.partition("=")
            if not sep:
                value = click.prompt(f"Value of secret '{key}'", hide_input=True)
            elif value.startswith("@"):
                value = _read(value[1:], f"--set {item}")
            out[key] = value
    return out


@api_command("secrets")
@click.option("--local", is_flag=True, help="This machine's secrets (what `dockerflow run` reads).")
@click.option("--project", metavar="NAME", help="The secrets of a project on the server.")
@click.option("--set", "to_set", multiple=True, metavar="KEY[=VALUE|=@FILE]|@FILE.json|-",
              help="Set secrets; a KEY alone asks for its value, hidden (repeatable).")
@click.option("--delete", "to_delete", multiple=True, metavar="KEY", help="Delete a secret (repeatable).")
def secrets(api: Client, out: Out, local: bool, project: str | None, to_set: tuple[str, ...],
            to_delete: tuple[str, ...]) -> None:
    """Manage the secrets tasks read as ${secret:KEY}; with no --set or --delete, list the keys."""
    if local == (project is not None):
        raise UserInputError("give one of --local (this machine's secrets) or --project NAME"
                             " (a server project's)")
    values = values_to_set(to_set)
    if local:
        store = LocalSecrets()
        for key, value in values.items():
            store.set(key, value)
            click.echo(f"Secret '{key}' set")
        for key in to_delete:
            if not store.delete(key):
                raise UserInputError(f"no secret '{key}' to delete")
            click.echo(f"Secret '{key}' deleted")
        keys = store.keys()
    else:
        assert project is not None
        found = api.get_project_by_name(project)
        for key, value in values.items():
            api.set_secret(found.id, key, value)
            click.echo(f"Secret '{key}' set in project {project!r}")
        for key in to_delete:
            api.delete_secret(found.id, key)
            click.echo(f"Secret '{key}' deleted from project {project!r}")
        keys = api.get_secrets(found.id) if not (values or to_delete) else []
    if not values and not to_delete:
        if out.json:
            out.print_json({"secrets": [{"key": k} for k in keys]})
        else:
            for key in keys:
                click.echo(key)
