"""A project: workflows plus other files, written to a folder or packed for the server.

    project = Project(name="etl", workflows=[wf1, wf2], files={"tasks.py": code})
    project.write("build/etl")     # etl files; refuses to replace a different existing file
    data = project.archive()       # deterministic tar.gz, ready for `push`

Every workflow becomes `<name>.dig` at the top of the project (that is what makes it a
workflow).  `files` holds everything else by relative path: text, bytes, a `ProjectFile`
(to mark it executable) or a `Workflow` for a `.dig` file in a subfolder (`call>` targets).
"""

from __future__ import annotations

import gzip
import io
import os
import posixpath
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from dockerflow.errors import UserInputError
from dockerflow.sdk.values import Model
from dockerflow.sdk.workflow import Workflow, WorkflowName
from dockerflow.sdk.writer import to_dig

__all__ = ["ARCHIVE_MTIME", "Project", "ProjectFile", "ProjectWriteError"]

ARCHIVE_MTIME = 0
"""The modification time of every archive member (the archive must not depend on when it
was built)."""


class ProjectWriteError(UserInputError):
    """`Project.write` would replace different existing files; nothing was written."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        shown = ", ".join(str(p) for p in paths[:5]) + (" ..." if len(paths) > 5 else "")
        super().__init__(f"refusing to replace {len(paths)} existing file(s) whose content"
                         f" differs: {shown}; write elsewhere, delete them, or pass"
                         " overwrite=True")


class ProjectFile(Model):
    """A project file's content, and whether it is executable (scripts run by `sh>`)."""

    content: str | bytes
    executable: bool = False

    def data(self) -> bytes:
        """The file's bytes (text is UTF-8)."""
        return self.content.encode() if isinstance(self.content, str) else self.content


FileContent = str | bytes | ProjectFile | Workflow


def _rel_path(path: str) -> str:
    norm = posixpath.normpath(path.replace("\\", "/"))
    if (not path or path.startswith(("/", "\\")) or os.path.isabs(path) or norm == "."
            or norm == ".." or norm.startswith("../") or ":" in norm.split("/")[0]):
        raise ValueError(f"file path {path!r} must be relative and stay inside the project")
    return norm


def _files(value: Any) -> Any:
    if isinstance(value, dict):
        return {_rel_path(k) if isinstance(k, str) else k: v for k, v in value.items()}
    return value


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


class Project(Model):
    """Workflows and files that make one project (one `push`)."""

    name: WorkflowName
    workflows: Annotated[Sequence[Workflow], BeforeValidator(_as_tuple)] = ()
    files: Annotated[Mapping[str, FileContent], BeforeValidator(_files)] = Field(
        default_factory=dict)

    @model_validator(mode="after")
    def _paths(self) -> Project:
        seen: set[str] = set()
        for wf in self.workflows:
            path = wf.name + ".dig"
            if path in seen:
                raise ValueError(f"two workflows named {wf.name!r}")
            seen.add(path)
        for path, content in self.files.items():
            if path in seen:
                raise ValueError(f"files: {path!r} is also the file of a workflow")
            if isinstance(content, Workflow) and posixpath.basename(path) != content.name + ".dig":
                raise ValueError(f"files: {path!r} holds workflow {content.name!r}; name the"
                                 f" file {content.name}.dig")
            if "/" not in path and path.endswith(".dig") and isinstance(content, Workflow):
                raise ValueError(f"files: put top-level workflow {content.name!r} in"
                                 " workflows")
        return self

    def with_workflow(self, workflow: Workflow) -> Project:
        """A copy of this project with `workflow` added (or replacing one of that name)."""
        kept = tuple(w for w in self.workflows if w.name != workflow.name)
        return Project(name=self.name, workflows=(*kept, workflow), files=self.files)

    def rendered(self) -> dict[str, tuple[bytes, bool]]:
        """Every file of the project: relative path -> (bytes, executable), sorted."""
        out: dict[str, tuple[bytes, bool]] = {}
        for wf in self.workflows:
            out[wf.name + ".dig"] = (to_dig(wf).encode(), False)
        for path, content in self.files.items():
            if isinstance(content, Workflow):
                out[path] = (to_dig(content).encode(), False)
            elif isinstance(content, ProjectFile):
                out[path] = (content.data(), content.executable)
            else:
                out[path] = (content.encode() if isinstance(content, str) else content, False)
        return dict(sorted(out.items()))

    def write(self, directory: str | os.PathLike[str], *, overwrite: bool = False) -> list[Path]:
        """Write the project's files under `directory`; returns the files that changed.

        An existing file with the same content is left alone.  One with different content
        is replaced only with `overwrite`; otherwise `ProjectWriteError` lists them all and
        nothing is written.  Other files in the folder are never touched.
        """
        root = Path(directory)
        rendered = self.rendered()
        conflicts: list[Path] = []
        todo: list[tuple[Path, bytes, bool]] = []
        for rel, (data, executable) in rendered.items():
            target = root / rel
            if target.is_dir() or (target.is_file() and target.read_bytes() != data
                                   and not overwrite):
                conflicts.append(target)
            elif not (target.is_file() and target.read_bytes() == data):
                todo.append((target, data, executable))
        if conflicts:
            raise ProjectWriteError(conflicts)
        for target, data, executable in todo:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
            tmp.write_bytes(data)
            if executable:
                tmp.chmod(tmp.stat().st_mode | 0o111)
            os.replace(tmp, target)
        return [t for t, _d, _e in todo]

    def archive(self) -> bytes:
        """A tar.gz of the project for the server's push: members sorted by path, fixed
        mtime, owner and modes, dot-files and dot-folders left out.  The same project always
        gives the same bytes."""
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=ARCHIVE_MTIME,
                           compresslevel=9) as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for rel, (data, executable) in self.rendered().items():
                    if any(part.startswith(".") for part in rel.split("/")):
                        continue
                    info = tarfile.TarInfo(rel)
                    info.size = len(data)
                    info.mtime = ARCHIVE_MTIME
                    info.mode = 0o755 if executable else 0o644
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()

    @classmethod
    def read(cls, directory: str | os.PathLike[str], name: str | None = None, *,
             validate: bool = True) -> Project:
        """A project from a folder: every top-level `*.dig` is read as a workflow
        (`read_dig`), every other file is kept as bytes.  Dot-files and dot-folders
        (`.git`, `.dockerflow`, ...) are skipped."""
        from dockerflow.sdk.reader import read_dig

        root = Path(directory)
        workflows: list[Workflow] = []
        files: dict[str, FileContent] = {}
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in sorted(filenames):
                if filename.startswith("."):
                    continue
                path = Path(dirpath) / filename
                rel = path.relative_to(root).as_posix()
                if "/" not in rel and rel.endswith(".dig"):
                    workflows.append(read_dig(path, validate=validate))
                else:
                    files[rel] = ProjectFile(content=path.read_bytes(),
                                             executable=os.access(path, os.X_OK))
        return cls(name=name or root.resolve().name, workflows=tuple(workflows), files=files)
