"""Projects: writing files safely and building a deterministic archive."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest
from pydantic import ValidationError

from dockerflow.sdk import (
    Call,
    Echo,
    Project,
    ProjectFile,
    ProjectWriteError,
    Sh,
    Workflow,
    read_dig,
    to_dig,
)


def sample() -> Project:
    return Project(
        name="demo",
        workflows=[Workflow(name="main", tasks=[Call(name="c", workflow="sub/child.dig")]),
                   Workflow(name="other", tasks=[Echo(name="e", message="hi")])],
        files={"sub/child.dig": Workflow(name="child", tasks=[Sh(name="s", command="ls")]),
               "tasks.py": "def f():\n    pass\n",
               "run.sh": ProjectFile(content="#!/bin/sh\necho hi\n", executable=True),
               "data.bin": b"\x00\x01",
               ".digdagignore": "*.tmp\n",
               ".secret/key": "x"},
    )


def test_write_creates_files(tmp_path: Path) -> None:
    written = sample().write(tmp_path)
    assert {p.relative_to(tmp_path).as_posix() for p in written} == {
        "main.dig", "other.dig", "sub/child.dig", "tasks.py", "run.sh", "data.bin",
        ".digdagignore", ".secret/key"}
    assert read_dig(tmp_path / "other.dig").tasks[0] == Echo(name="e", message="hi")
    assert (tmp_path / "data.bin").read_bytes() == b"\x00\x01"
    assert os.access(tmp_path / "run.sh", os.X_OK)
    assert not os.access(tmp_path / "tasks.py", os.X_OK)


def test_write_again_changes_nothing(tmp_path: Path) -> None:
    sample().write(tmp_path)
    assert sample().write(tmp_path) == []


def test_write_never_silently_overwrites(tmp_path: Path) -> None:
    (tmp_path / "other.dig").write_text("+mine:\n  echo>: keep me\n")
    (tmp_path / "unrelated.txt").write_text("untouched")
    with pytest.raises(ProjectWriteError) as e:
        sample().write(tmp_path)
    assert e.value.paths == [tmp_path / "other.dig"]
    assert not (tmp_path / "main.dig").exists()  # all or nothing
    assert (tmp_path / "other.dig").read_text() == "+mine:\n  echo>: keep me\n"
    sample().write(tmp_path, overwrite=True)
    assert (tmp_path / "other.dig").read_text() == to_dig(sample().workflows[1])
    assert (tmp_path / "unrelated.txt").read_text() == "untouched"


def test_archive_is_deterministic_sorted_and_skips_dot_files() -> None:
    data = sample().archive()
    assert data == sample().archive()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == ["data.bin", "main.dig", "other.dig", "run.sh",
                                             "sub/child.dig", "tasks.py"]
        assert {m.mtime for m in members} == {0}
        assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "", "")}
        modes = {m.name: m.mode for m in members}
        assert modes["run.sh"] == 0o755 and modes["tasks.py"] == 0o644
        child = tar.extractfile("sub/child.dig")
        assert child is not None and child.read().decode() == "+s:\n  sh>: ls\n"


def test_archive_does_not_depend_on_the_order_files_were_given() -> None:
    p = sample()
    reordered = Project(name="demo", workflows=list(reversed(p.workflows)),
                        files=dict(reversed(list(p.files.items()))))
    assert reordered.archive() == p.archive()


def test_read_a_project_folder_back(tmp_path: Path) -> None:
    sample().write(tmp_path)
    (tmp_path / ".dockerflow").mkdir()
    (tmp_path / ".dockerflow" / "state").write_text("x")
    back = Project.read(tmp_path, name="demo")
    assert [w.name for w in back.workflows] == ["main", "other"]
    assert ".dockerflow/state" not in back.files and ".digdagignore" not in back.files
    assert back.archive() == sample().archive()


@pytest.mark.parametrize("files", [{"../x": "a"}, {"/abs": "a"}, {"main.dig": "a"},
                                   {"sub/x.dig": Workflow(name="y")}])
def test_bad_file_paths(files: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Project(name="p", workflows=[Workflow(name="main")], files=files)


def test_with_workflow_returns_a_new_project() -> None:
    p = Project(name="p")
    q = p.with_workflow(Workflow(name="a")).with_workflow(Workflow(name="a", timezone="UTC"))
    assert p.workflows == () and [w.timezone for w in q.workflows] == ["UTC"]
