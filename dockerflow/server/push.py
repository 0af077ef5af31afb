"""A pushed project: its archive checked, its workflows validated, before anything is stored.

    workflows_of_archive(data, max_bytes) -> [(name, timezone, config)]
        check_archive (a whole refusal names the entry: archive.py), unpack into a temporary
        folder, then load and validate every top-level `*.dig` as `dockerflow check` does
        (`call>` targets and `!include` files included): a bad one is a DigError naming
        `file:line`. config is the file's content without `timezone` (Digdag's workflow
        definition `config`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from dockerflow.archive import unpack_archive
from dockerflow.dig.workflow import load_workflow
from dockerflow.dig.yaml_loader import load_file


def workflows_of_archive(data: bytes, max_bytes: int) -> list[tuple[str, str, dict[str, Any]]]:
    with tempfile.TemporaryDirectory(prefix="dockerflow-push-") as tmp:
        project = Path(tmp) / "project"
        unpack_archive(data, project, max_bytes=max_bytes)
        out: list[tuple[str, str, dict[str, Any]]] = []
        for path in sorted(project.glob("*.dig")):
            if not path.is_file():
                continue
            workflow = load_workflow(path, project)
            config = {k: v for k, v in load_file(path, display_name=path.name).items()
                      if k != "timezone"}
            out.append((path.stem, workflow.timezone, _plain(config)))
        return out


def _plain(value: Any) -> Any:
    """The loader's position-keeping maps and lists as plain JSON data."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
