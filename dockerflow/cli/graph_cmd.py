"""`dockerflow graph FILE.dig [-o out.svg|out.png|out.dot]`: a picture of the task tree."""

from __future__ import annotations

from pathlib import Path

import click

from dockerflow.dig.workflow import load_workflow
from dockerflow.errors import UserInputError
from dockerflow.pathnames import workflow_path

FORMATS = {".dot": None, ".gv": None, ".svg": "svg", ".png": "png", ".pdf": "pdf"}


@click.command("graph")
@click.argument("workflow")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write a picture: .svg, .png, .pdf (Graphviz's dot renders them) or .dot.")
@click.option("--project", type=click.Path(file_okay=False), default=".",
              help="Project folder (default: the current folder).")
def graph(workflow: str, output: str | None, project: str) -> None:
    """Draw WORKFLOW's task tree: a text tree, or a Graphviz picture with -o."""
    from dockerflow.graph.picture import to_dot, to_text  # graphviz only when asked for

    proj = Path(project).resolve()
    wf = load_workflow(workflow_path(proj, workflow), proj, warnings=[])
    if output is None:
        click.echo("\n".join(to_text(wf)))
        return
    target = Path(output)
    suffix = target.suffix.lower()
    if suffix not in FORMATS:
        raise UserInputError(f"-o {output}: unknown picture format {suffix or '(none)'}; use one"
                             " of " + ", ".join(sorted(FORMATS)))
    source = to_dot(wf)
    fmt = FORMATS[suffix]
    if fmt is None:
        target.write_text(source, encoding="utf-8")
    else:
        import graphviz

        try:
            data = graphviz.Source(source).pipe(format=fmt)
        except graphviz.ExecutableNotFound:
            raise click.ClickException(
                f"drawing {suffix[1:]} needs Graphviz's `dot`, which is not installed: install"
                " it (apt-get install graphviz, brew install graphviz) or write a .dot file"
                " with -o FILE.dot") from None
        target.write_bytes(data)
    click.echo(f"wrote {output}")
