"""Gradescope's results.json, validated against Gradescope's documented format
(tests/fixtures/schemas/gradescope-results.schema.json, transcribed from its docs) for each
exit code: 0 (passed), 1 (failed) and 2 (grading could not run: the file is still written,
score 0, with the error and its hint). `dockerlab grade` runs on the fake engine."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from grader.errors import EngineUnavailable
from grader.reporters import gradescope
from grader.results import CheckResult, Status
from tests.fake_engine import FakeEngine, Recorded
from tests.unit.test_formats_github import dockerlab, failing_engine, use_engine

SCHEMA_PATH = Path(__file__).parents[1] / "fixtures" / "schemas" / "gradescope-results.schema.json"
ROOT_USER_FIX = Recorded(image={"user": "65534"})



def results(path: Path, validator: jsonschema.Draft202012Validator) -> dict:
    data = json.loads(path.read_text())
    validator.validate(data)
    return data


@pytest.mark.parametrize("engine, exit_code", [
    (FakeEngine({"app": ROOT_USER_FIX, "api": ROOT_USER_FIX}), 0),
    (failing_engine(), 1),
], ids=["passed", "failed"])
def test_graded_results_validate_and_agree_with_the_json_report(
        course, capsys, monkeypatch, tmp_path, validator, engine, exit_code):
    use_engine(monkeypatch, engine)
    out = tmp_path / "autograder" / "results" / "results.json"
    code, _ = dockerlab(capsys, "grade", "lab4", "--path", "submissions/alice",
                        "--format", "gradescope", "--output", str(out),
                        "--report", f"json:{tmp_path / 'result.json'}")
    assert code == exit_code
    data = results(out, validator)
    report = json.loads((tmp_path / "result.json").read_text())
    assert (data["score"], data["output_format"]) == (report["score"], "text")
    assert sum(test["score"] for test in data["tests"]) == pytest.approx(data["score"])
    assert ("Verdict: PASSED" if exit_code == 0 else "Verdict: FAILED") in data["output"]
    assert {test["visibility"] for test in data["tests"]} == {"visible"}


def spec_error(course, monkeypatch) -> tuple[list[str], str, str]:
    lab = json.loads(course.lab_yml.read_text())
    lab["pass_mark"] = "most"
    course.lab_yml.write_text(json.dumps(lab))
    return ["lab4", "--path", "submissions/alice"], "pass_mark", "lab.yml"


def missing_folder(course, monkeypatch) -> tuple[list[str], str, str]:
    return (["lab4", "--path", "submissions/bob"], "There is no submission folder",
            "Pass the folder holding the exercise folders with --path.")


def no_engine(course, monkeypatch) -> tuple[list[str], str, str]:
    def unavailable(**_options):
        raise EngineUnavailable("No Docker engine answers at unix:///var/run/docker.sock.",
                                hint="Start Docker, or set DOCKER_HOST to an engine.")

    monkeypatch.setattr("grader.infra.engine.ensure_engine", unavailable)
    return (["lab4", "--path", "submissions/alice"], "No Docker engine answers",
            "Start Docker, or set DOCKER_HOST to an engine.")


@pytest.mark.parametrize("cause", [spec_error, missing_folder, no_engine],
                         ids=["bad-spec", "missing-folder", "no-engine"])
def test_when_grading_cannot_run_results_json_still_explains_it(
        course, capsys, monkeypatch, tmp_path, validator, cause):
    use_engine(monkeypatch, failing_engine())
    args, error, hint = cause(course, monkeypatch)
    out = tmp_path / "autograder" / "results" / "results.json"
    also = tmp_path / "also" / "results.json"
    code, _ = dockerlab(capsys, "grade", *args, "--format", "gradescope", "--output", str(out),
                        "--report", f"gradescope:{also}")
    assert code == 2
    data = results(out, validator)
    assert also.read_text() == out.read_text()
    assert data["score"] == 0
    (test,) = data["tests"]
    assert test["status"] == "failed" and test["visibility"] == "visible"
    for text in (data["output"], test["output"]):
        assert error in text and hint in text
        assert "not a mark on your work" in text


def test_without_output_the_error_results_go_to_standard_output(course, capsys, monkeypatch,
                                                                 validator):
    use_engine(monkeypatch, failing_engine())
    code, output = dockerlab(capsys, "grade", "lab4", "--path", "submissions/bob",
                             "--format", "gradescope")
    assert code == 2
    data = json.loads(output)
    validator.validate(data)
    assert "There is no submission folder" in data["output"]


def test_other_formats_write_nothing_when_grading_cannot_run(course, capsys, monkeypatch,
                                                              tmp_path):
    use_engine(monkeypatch, failing_engine())
    out = tmp_path / "junit.xml"
    code, _ = dockerlab(capsys, "grade", "lab4", "--path", "submissions/bob",
                        "--format", "junit", "--output", str(out))
    assert code == 2 and not out.exists()


def test_a_check_the_lab_hides_shows_once_grades_are_published(validator):
    """Visibility comes from one function reading the check's optional `hidden`."""
    check = CheckResult("ML4-SIZE", "small", "app", Status.PASSED, 1, 1, "5 MB")
    assert gradescope.gradescope_test("1.1", check)["visibility"] == "visible"
    check.hidden = True  # what a check's `hidden: true` in lab.yml sets
    test = gradescope.gradescope_test("1.1", check)
    assert test["visibility"] == "after_published"
    validator.validate({"score": 1, "tests": [test]})
