"""tests/conformance-passing.txt and the copy of the cases in tests/conformance/cases/ agree."""

from __future__ import annotations

import json
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
LISTED = TESTS / "conformance-passing.txt"
CASES = TESTS / "conformance" / "cases"


def listed() -> list[str]:
    lines = (line.strip() for line in LISTED.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_every_listed_case_has_a_folder() -> None:
    missing = [name for name in listed() if not (CASES / name / "case.json").is_file()]
    assert missing == [], f"listed in {LISTED.name} but not in tests/conformance/cases/: {missing}"


def test_every_case_folder_is_listed() -> None:
    folders = sorted(p.parent.name for p in CASES.glob("*/case.json"))
    extra = sorted(set(folders) - set(listed()))
    assert extra == [], f"in tests/conformance/cases/ but not listed in {LISTED.name}: {extra}"


def test_listed_names_are_unique() -> None:
    names = listed()
    assert len(names) == len(set(names))


def test_case_files_are_readable_json_with_steps() -> None:
    for case_json in sorted(CASES.glob("*/case.json")):
        spec = json.loads(case_json.read_text())
        assert spec.get("steps"), f"{case_json.parent.name}: no steps"
        for step in spec["steps"]:
            assert isinstance(step.get("args"), list), f"{case_json.parent.name}: a step without args"
