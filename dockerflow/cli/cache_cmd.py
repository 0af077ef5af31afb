"""`dockerflow cache prune`: shrink or empty the task cache (`_cache`) of a project."""

from __future__ import annotations

from pathlib import Path

import click

from dockerflow.errors import TaskFailure, UserInputError
from dockerflow.runtime.cache import SIZE_ENV, TaskCache, cache_root, human_size, size_limit
from dockerflow.units import parse_size


@click.group("cache")
def cache() -> None:
    """The task cache of a project (.dockerflow/cache/, filled by tasks with _cache)."""


@cache.command("prune")
@click.option("--project", type=click.Path(file_okay=False), default=".",
              help="Project folder (default: the current folder).")
@click.option("--all", "everything", is_flag=True, help="Remove every entry.")
@click.option("--max-size", metavar="SIZE",
              help=f"Keep the most recently used entries that fit in SIZE (e.g. 500M, 2G;"
                   f" default ${SIZE_ENV}, else 1G).")
def prune(project: str, everything: bool, max_size: str | None) -> None:
    """Remove the least recently used cache entries down to the size limit (or all)."""
    if everything and max_size is not None:
        raise UserInputError("--all and --max-size can't be used together")
    try:
        limit = parse_size(max_size, "--max-size") if max_size is not None else size_limit()
    except (ValueError, TaskFailure) as e:  # a bad --max-size or $DOCKERFLOW_CACHE_SIZE
        raise UserInputError(str(e)) from None
    store = TaskCache(cache_root(Path(project).resolve()), max_size=limit)
    removed = store.clear() if everything else store.evict(limit)
    kept = store.entries()
    click.echo(f"removed {len(removed)} entr{'y' if len(removed) == 1 else 'ies'}"
               f" ({human_size(sum(e.size for e in removed))}); {len(kept)} kept"
               f" ({human_size(sum(e.size for e in kept))})")
