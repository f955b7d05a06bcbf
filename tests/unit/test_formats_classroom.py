"""`--format classroom`: the base64 `result` GitHub Classroom's autograding reporter reads from
`<ID>_RESULTS`. Decoded, it has the fields its graders write (checked against
tests/fixtures/schemas/classroom-result.schema.json, transcribed from their source), and the
totals the reporter computes (the tests' scores against max_score) are the grader's."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from grader import reporters
from grader.reporters import classroom
from grader.results import LabResult, Status
from grader.runner import grade
from grader.spec import load_lab
from tests.fake_engine import FakeEngine, Recorded
from tests.unit.test_formats_github import (
    EXPECTED_LINES,
    dockerlab,
    failing_engine,
    use_engine,
)

SCHEMA_PATH = Path(__file__).parents[1] / "fixtures" / "schemas" / "classroom-result.schema.json"



def decode(text: str) -> dict:
    """What the reporter does: Buffer.from(value, "base64").toString("utf-8"), JSON.parse."""
    return json.loads(base64.b64decode(text.strip(), validate=True).decode("utf-8"))


def reporter_totals(result_json: dict) -> tuple[float, float]:
    """The points the reporter sends Classroom (notify-classroom.js): the sum of the tests'
    score, against the top-level max_score."""
    return sum(test["score"] for test in result_json["tests"]), result_json["max_score"]


def failing_result(course) -> LabResult:
    return grade(load_lab(course.lab_yml), course.alice, failing_engine())


def test_round_trips_with_the_fields_and_totals_of_the_result(course, validator):
    result = failing_result(course)
    text = reporters.render(result, "classroom")
    assert text.count("\n") == 1  # one line: `echo "result=$(cat …)" >> "$GITHUB_OUTPUT"`
    data = decode(text)
    validator.validate(data)
    assert (data["version"], data["status"]) == (1, "fail")
    assert reporter_totals(data) == (pytest.approx(result.points), result.max_points)
    assert [test["name"].removesuffix(" (required)") for test in data["tests"]] == [
        f"{check.rule_id} {check.name}" for check in result.checks]
    for test, check in zip(data["tests"], result.checks, strict=True):
        assert test["status"] == ("pass" if check.status is Status.PASSED else "fail")
        assert test["score"] == check.points
        assert test["duration"] == round(check.duration_s * 1000)
        assert check.what in test["message"]


def test_filename_and_line_name_the_dockerfile_line_from_the_repository_root(course):
    data = decode(classroom.render(failing_result(course)))
    located = {" ".join(test["name"].split()[:2]).rstrip(":"): test for test in data["tests"]
               if test["line_no"]}
    assert set(located) == set(EXPECTED_LINES)
    for title, test in located.items():
        lines = (course.repo / test["filename"]).read_text().splitlines()
        assert lines[test["line_no"] - 1] == EXPECTED_LINES[title]
    assert all(test["filename"] == "" for test in data["tests"] if not test["line_no"])


def test_a_passing_lab_passes_with_full_points(course, validator):
    fixed = Recorded(image={"user": "65534"})
    result = grade(load_lab(course.lab_yml), course.alice, FakeEngine({"app": fixed, "api": fixed}))
    data = decode(classroom.render(result))
    validator.validate(data)
    assert data["status"] == "pass"
    assert {test["status"] for test in data["tests"]} == {"pass"}
    assert reporter_totals(data) == (result.max_points, result.max_points)


def test_cli_writes_it_with_the_graders_exit_code(course, capsys, monkeypatch, tmp_path,
                                                  validator):
    use_engine(monkeypatch, failing_engine())
    out = tmp_path / "classroom.b64"
    code, _ = dockerlab(capsys, "grade", "lab4", "--path", "submissions/alice",
                        "--format", "github", "--report", f"classroom:{out}")
    assert code == 1
    validator.validate(decode(out.read_text()))
