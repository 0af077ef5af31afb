"""Replacing every conformance workflow by `to_dig(read_dig(...))` changes no verdict.

The cases are copied to a scratch folder and every `.dig` file there (main, called and
included files) is rewritten from the original:

* read with `read_dig`'s validation (the engine's, accepting any operator name) when it
  accepts the file; an unknown operator stays a generic task, and when the engine refuses
  the original (unknown_operator) it must refuse the rewritten file with the same message;
* else read without it, with the same check on the rewritten file;
* a file even the loader refuses (bad_yaml) is kept as is, and `read_dig` must fail on it
  exactly as the engine does.

`!include` is inlined by the reader, so a rewritten file no longer needs the included one
(which is rewritten on its own when it is a `.dig` file).  Then every case of
tests/conformance/cases/ runs on the original and on the rewritten copy, and the verdict
(passes or not) must be the same.  Needs a working CLI and the Docker engine; slow (two full
runs of the cases).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import docker
import pytest
from conformance_runner import CASES, ensure_conformance_image, load, run_case

from dockerflow.errors import DigError
from dockerflow.sdk import read_dig, to_dig

pytestmark = [pytest.mark.slow, pytest.mark.docker]


def writable_copy(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, copy_function=shutil.copyfile)
    for folder, _dirs, _files in os.walk(dst):
        os.chmod(folder, 0o755)


def rewrite_all(copy: Path) -> dict[str, list[str]]:
    """Rewrite every `.dig` under `copy` from its original; what was done to each file."""
    from dockerflow.dig.workflow import load_workflow

    report: dict[str, list[str]] = {"validated": [], "operators_kept": [], "unvalidated": [],
                                    "kept": []}
    for target in sorted(copy.rglob("*.dig")):
        rel = target.relative_to(copy)
        original = CASES / rel
        try:
            load_workflow(original)
            engine_error = None
        except DigError as e:
            engine_error = e
        try:
            wf = read_dig(original)
            kind = "validated" if engine_error is None else "operators_kept"
        except DigError as reader_error:
            try:
                wf = read_dig(original, validate=False)
            except DigError as loader_error:
                # broken on purpose: kept, and refused exactly as read_dig refuses it
                assert (loader_error.message, loader_error.line) == \
                    (reader_error.message, reader_error.line), rel
                report["kept"].append(str(rel))
                continue
            kind = "unvalidated"
        target.write_text(to_dig(wf))
        if kind != "unvalidated":
            assert read_dig(target) == wf, rel
        if engine_error is not None:  # refused by check/run before, and after
            with pytest.raises(DigError) as again:
                load_workflow(target)
            assert again.value.message == engine_error.message, rel
        report[kind].append(str(rel))
    return report


def verdicts(cases: Path, work: Path, client: docker.DockerClient) -> dict[str, bool]:
    """{case: passed} for every case under `cases`."""
    out = {}
    for case_dir in sorted(p for p in cases.iterdir() if (p / "case.json").is_file()):
        docker_case = "docker" in load(case_dir).get("requires", [])
        outcome = run_case(case_dir, work / case_dir.name, client if docker_case else None)
        out[case_dir.name] = not outcome.problems
    return out


def test_rewritten_cases_get_the_same_verdicts(tmp_path: Path, client: docker.DockerClient) -> None:
    ensure_conformance_image(client)
    copy = tmp_path / "cases"
    writable_copy(CASES, copy)
    report = rewrite_all(copy)
    assert "bad_yaml/main.dig" in report["kept"]
    assert "unknown_operator/main.dig" in report["operators_kept"]
    assert "include/main.dig" in report["validated"]
    assert "!include" not in (copy / "include" / "main.dig").read_text()

    original = verdicts(CASES, tmp_path / "original", client)
    assert any(original.values()), "no conformance case passes with the CLI"
    rewritten = verdicts(copy, tmp_path / "rewritten", client)
    assert set(rewritten) == set(original) == {p.name for p in CASES.iterdir() if p.is_dir()}
    changed = {case: (original[case], rewritten[case]) for case in original
               if original[case] != rewritten[case]}
    assert not changed, f"verdicts changed (original passed, rewritten passed): {changed}"
