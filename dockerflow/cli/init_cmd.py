"""`dockerflow init DIR`: a small project that runs as it is."""

from __future__ import annotations

from pathlib import Path

import click

from dockerflow.errors import UserInputError

HELLO_DIG = """\
timezone: UTC

_export:
  greeting: hello

+say:
  echo>: ${greeting} from ${session_date}

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


@click.command("init")
@click.argument("directory")
def init(directory: str) -> None:
    """Create DIRECTORY with a small working workflow (hello.dig)."""
    target = Path(directory)
    files = {"hello.dig": HELLO_DIG, "tasks.py": TASKS_PY, ".gitignore": GITIGNORE}
    existing = [n for n in files if (target / n).exists()]
    if existing:
        raise UserInputError(f"{directory} already has {', '.join(existing)}; nothing written")
    target.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (target / name).write_text(text, encoding="utf-8")
    click.echo(f"Created {directory}/hello.dig. Run it with:\n"
               f"  cd {directory} && dockerflow run hello.dig")
