"""`dockerflow init DIR`: a small project that runs as it is, in a container by default."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dockerflow.errors import UserInputError

DEFAULT_IMAGE = "dockerflow/python:latest"  # built by `dockerflow images build`

DOCKER_EXPORT = """\
# Every task below inherits docker: from _export and runs in its own container, with this
# folder mounted and files owned by you. Remove the docker: block to run on the host.
_export:
  docker:
    image: {image}
  greeting: hello
"""

HOST_EXPORT = """\
# Tasks run on this machine (no docker: option); add `docker: {{image: ...}}` under _export
# to run them in containers.
_export:
  greeting: hello
"""

TASKS_DIG = """\

+say:
  echo>: ${greeting} from ${session_date}

+where:
  sh>: echo "running on $(. /etc/os-release && echo $PRETTY_NAME) as uid $(id -u)"

+compute:
  py>: tasks.compute

+show:
  sh>: echo "the answer is ${answer}"
"""

TASKS_PY = """\
import digdag


def compute(greeting):
    digdag.env.store({"answer": len(greeting) * 6})
"""

GITIGNORE = ".dockerflow/\n"


def hello_dig(image: str | None) -> str:
    head = "timezone: UTC\n\n"
    if image is None:
        return head + HOST_EXPORT + TASKS_DIG
    return head + DOCKER_EXPORT.format(image=json.dumps(image)) + TASKS_DIG


@click.command("init")
@click.argument("directory")
@click.option("--image", metavar="IMAGE", default=None,
              help=f"Image the tasks run in (default: {DEFAULT_IMAGE}); py> needs python3 in it.")
@click.option("--host", is_flag=True, help="Make a project whose tasks run on this machine.")
def init(directory: str, image: str | None, host: bool) -> None:
    """Create DIRECTORY with a small working workflow (hello.dig) that runs in a container."""
    if host and image:
        raise UserInputError("--host and --image can't be used together: --host runs the tasks"
                             " on this machine, --image in a container")
    if image is not None and not image.strip():
        raise UserInputError("--image needs an image name, e.g. --image python:3.12-slim")
    chosen = None if host else (image or DEFAULT_IMAGE)
    target = Path(directory)
    files = {"hello.dig": hello_dig(chosen), "tasks.py": TASKS_PY, ".gitignore": GITIGNORE}
    existing = [n for n in files if (target / n).exists()]
    if existing:
        raise UserInputError(f"{directory} already has {', '.join(existing)}; nothing written")
    target.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (target / name).write_text(text, encoding="utf-8")
    lines = [f"Created {directory}/hello.dig"
             + ("" if chosen is None else f" (tasks run in {chosen})") + ". Run it with:"]
    if chosen == DEFAULT_IMAGE:
        lines.append("  dockerflow images build      # once: builds the runner image")
    lines.append(f"  cd {directory} && dockerflow run hello.dig")
    click.echo("\n".join(lines))
