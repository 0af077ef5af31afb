"""Generate one ingest workflow per data feed, and one workflow that runs them all.

    python generate.py                      # writes generated/ next to this file
    python generate.py OUTDIR [--archive feeds.tar.gz] [--overwrite]

Then, in the output folder:

    dockerflow run ingest_orders.dig --session 2024-03-05
    dockerflow run all_feeds.dig --session 2024-03-05

Every task is a host command (`sh>`/`echo>`), so no Docker engine is needed.  To run the
tasks of a feed in containers instead, add `"docker": Docker(image=...)` to its `_export`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dockerflow.sdk import (
    Call,
    Daily,
    Echo,
    ForEach,
    Group,
    Project,
    ProjectWriteError,
    Retry,
    Sh,
    Workflow,
)

# The one place to edit: a feed, the regions it is fetched from, and its start hour (UTC).
FEEDS: dict[str, tuple[list[str], int]] = {
    "orders": (["eu", "us"], 1),
    "customers": (["eu", "us", "apac"], 2),
    "inventory": (["us"], 3),
}


def feed_workflow(feed: str, regions: list[str], hour: int) -> Workflow:
    """`ingest_<feed>`: fetch every region at once, check the result, report per region."""
    log = "${outdir}/${feed}.log"
    return Workflow(
        name=f"ingest_{feed}",
        timezone="UTC",
        schedule=Daily(f"{hour:02d}:30:00", skip_delayed_by="2h"),
        export={"feed": feed, "outdir": "out"},
        error=Echo(message="${feed}: ingest failed: ${error.message}"),
        tasks=[
            Sh(name="prepare", command="mkdir -p ${outdir}"),
            Group(
                name="fetch",
                parallel=True,
                tasks=[
                    Sh(name=region,
                       command=f'echo "fetched ${{feed}} from {region} for ${{session_date}}"'
                               f" >> {log}",
                       retry=Retry(limit=2, interval=10))
                    for region in regions
                ],
            ),
            Sh(name="check", command=f'test "$(wc -l < {log})" -ge {len(regions)}'),
            ForEach(name="report", items={"region": regions},
                    do=Echo(message="${feed}: ${region} done for ${session_date}")),
        ],
    )


def build_project() -> Project:
    """All feed workflows, plus `all_feeds`, which runs them one after the other."""
    feeds = [feed_workflow(feed, regions, hour) for feed, (regions, hour) in FEEDS.items()]
    everything = Workflow(
        name="all_feeds",
        tasks=[Call(name=wf.name, workflow=f"{wf.name}.dig") for wf in feeds],
    )
    return Project(name="feeds", workflows=[*feeds, everything])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", nargs="?", default=str(Path(__file__).parent / "generated"))
    parser.add_argument("--archive", help="also write the project as a tar.gz here")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing files whose content differs")
    args = parser.parse_args(argv)
    project = build_project()
    try:
        changed = project.write(args.outdir, overwrite=args.overwrite)
    except ProjectWriteError as e:
        print(e, file=sys.stderr)
        return 2
    for path in changed:
        print("wrote", path)
    if args.archive:
        Path(args.archive).write_bytes(project.archive())
        print("wrote", args.archive)
    return 0


if __name__ == "__main__":
    sys.exit(main())
