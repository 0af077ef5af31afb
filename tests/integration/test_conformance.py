"""The conformance cases kept in tests/conformance/cases/ pass (run by conformance_runner)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker
import pytest
from conformance_runner import CASES, check_spec, ensure_conformance_image, load, run_case

pytestmark = pytest.mark.slow


def case_params() -> list[Any]:
    params = []
    for case_json in sorted(CASES.glob("*/case.json")):
        needs_docker = "docker" in load(case_json.parent).get("requires", [])
        marks = [pytest.mark.docker] if needs_docker else []
        params.append(pytest.param(case_json.parent, id=case_json.parent.name, marks=marks))
    return params


@pytest.fixture(scope="module")
def conformance_image(client: docker.DockerClient) -> str:
    return ensure_conformance_image(client)


@pytest.mark.parametrize("case_dir", case_params())
def test_conformance_case(case_dir: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    spec = load(case_dir)
    check_spec(spec)
    client: docker.DockerClient | None = None
    if "docker" in spec.get("requires", []):
        request.getfixturevalue("conformance_image")
        client = request.getfixturevalue("client")
    outcome = run_case(case_dir, tmp_path, client)
    assert not outcome.problems, "\n".join(outcome.problems) + "\n\n" + "\n".join(outcome.transcript)


def docker_case_params() -> list[Any]:
    return [pytest.param(case_json.parent, id=case_json.parent.name, marks=[pytest.mark.docker])
            for case_json in sorted(CASES.glob("*/case.json"))
            if "docker" in load(case_json.parent).get("requires", [])]


@pytest.mark.parametrize("case_dir", docker_case_params())
def test_conformance_case_with_warm_containers(case_dir: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The docker cases again, with `reuse: true` added to every `docker:` mapping."""
    spec = load(case_dir)
    request.getfixturevalue("conformance_image")
    client = request.getfixturevalue("client")
    outcome = run_case(case_dir, tmp_path, client, reuse=True)
    assert not outcome.problems, "\n".join(outcome.problems) + "\n\n" + "\n".join(outcome.transcript)
    assert "docker" in spec["requires"]
