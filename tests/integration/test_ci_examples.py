"""examples/ci/: the CI files have the steps that matter, and ci.dig checks (and runs)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conformance_runner import use_warm_containers
from junit_check import check_report

CI = Path(__file__).resolve().parents[2] / "examples" / "ci"
CLI = [sys.executable, "-m", "dockerflow"]
RUN = "dockerflow run ci.dig --project examples/ci --junit report.xml"


def load(name: str) -> dict[Any, Any]:
    data = yaml.safe_load((CI / name).read_text())
    assert isinstance(data, dict)
    return data


def test_github_actions_builds_runs_and_publishes_the_report() -> None:
    wf = load("github-actions.yml")
    assert wf["permissions"]["checks"] == "write"
    steps = wf["jobs"]["run"]["steps"]
    runs = [s.get("run", "") for s in steps]
    uses = {s["uses"].split("@")[0]: s for s in steps if "uses" in s}
    assert any(r.startswith("pip install") for r in runs)
    assert any(r.startswith("dockerflow images build") for r in runs)
    assert RUN in runs
    assert runs.index(RUN) > next(i for i, r in enumerate(runs) if "images build" in r)
    upload = uses["actions/upload-artifact"]
    assert "report.xml" in upload["with"]["path"] and upload["if"] == "${{ !cancelled() }}"
    report = uses["dorny/test-reporter"]
    assert report["with"]["path"] == "report.xml" and report["with"]["reporter"] == "java-junit"
    assert report["if"] == "${{ !cancelled() }}"  # published also when a task failed
    for step in steps:
        if "uses" in step:
            assert "@" in step["uses"], f"unpinned action {step['uses']}"


def test_gitlab_ci_runs_and_publishes_the_report() -> None:
    ci = load("gitlab-ci.yml")
    job = ci["dockerflow"]
    assert job["stage"] in ci["stages"]
    assert any(s["name"].startswith("docker:") and "dind" in s["name"] for s in job["services"])
    assert job["variables"]["DOCKER_HOST"] == "tcp://docker:2375"
    assert any(line.startswith("pip install") for line in job["before_script"])
    assert job["script"][0].startswith("dockerflow images build")
    assert RUN in job["script"]
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"]["junit"] == "report.xml"


def test_ci_dig_checks() -> None:
    r = subprocess.run(CLI + ["check", "ci.dig"], cwd=CI, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().endswith("OK")
    assert "+ci+checks  (group, parallel)" in r.stdout


@pytest.mark.docker
@pytest.mark.parametrize("reuse", [False, True], ids=["containers", "warm"])
def test_ci_dig_runs_and_reports(runner_images: None, tmp_path: Path, reuse: bool) -> None:
    project = tmp_path / "ci"
    shutil.copytree(CI, project, ignore=shutil.ignore_patterns(".dockerflow"))
    if reuse:
        assert use_warm_containers(project) > 0
    r = subprocess.run(CLI + ["run", "ci.dig", "--junit", "report.xml"], cwd=project,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    cases = check_report(project / "report.xml")
    assert {n: k for n, (k, _, _) in cases.items()} == {
        "+ci+environment": "passed", "+ci+checks+unit": "passed", "+ci+checks+smoke": "passed",
        "+ci+summary": "passed"}
