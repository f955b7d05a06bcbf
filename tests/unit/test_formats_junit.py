"""JUnit XML checked by a consumer this project did not write: read back by junitparser
with the counts of the result it renders, each check's file and line where CI servers'
schema allows them (docs/reference/output-formats.md says what that schema allows and why
the project carries no copy of it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from grader.reporters import junit
from grader.results import LabResult, Status
from grader.runner import grade
from grader.spec import load_lab
from tests.unit.test_formats_github import failing_engine, make_course

@pytest.fixture
def failing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[LabResult, Path]:
    """A grading that fails: one exercise runs as root, the other does not build, so its
    required check is skipped (a failed gate) and another check is skipped."""
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    monkeypatch.setenv("DOCKERLAB_CACHE", str(tmp_path / "cache"))
    course = make_course(tmp_path)
    monkeypatch.chdir(course.repo)
    result = grade(load_lab(course.lab_yml), course.alice, failing_engine())
    assert not result.passed
    return result, course.repo


def expected_counts(result: LabResult) -> dict[str, int]:
    """JUnit's counts of a result, from its checks: a skipped required check is a failed
    gate, so a failure; grader problems never reach a report, so no errors."""
    checks = result.checks
    return {
        "tests": len(checks),
        "failures": sum(c.status is Status.FAILED or c.failed_gate for c in checks),
        "errors": 0,
        "skipped": sum(c.status is Status.SKIPPED and not c.failed_gate for c in checks),
    }


def test_a_failing_grading_parses_back_with_its_counts(failing):
    result, _ = failing
    expected = expected_counts(result)
    assert expected["failures"] >= 2 and expected["skipped"] >= 1  # a real mix to count
    xml = junit.render(result)
    assert "<testsuites skipped" not in xml  # not in the schema Jenkins validates with

    parsed = JUnitXml.fromstring(xml)
    suites = list(parsed)
    assert [suite.name for suite in suites] == [f"lab4.{e.id}" for e in result.exercises]
    by_attributes = {key: sum(getattr(suite, key) for suite in suites) for key in expected}
    assert by_attributes == expected
    cases = [case for suite in suites for case in suite]
    by_cases = {
        "tests": len(cases),
        "failures": sum(any(isinstance(r, Failure) for r in case.result) for case in cases),
        "errors": sum(any(isinstance(r, Error) for r in case.result) for case in cases),
        "skipped": sum(any(isinstance(r, Skipped) for r in case.result) for case in cases),
    }
    assert by_cases == expected
    assert (parsed.tests, parsed.failures, parsed.errors) == (
        expected["tests"], expected["failures"], expected["errors"])


def test_each_check_carries_its_file_and_line_where_the_schema_allows(failing):
    """The schema allows a <testcase> no file or line: they are in its suite's properties
    (`file:<case>`, `line:<case>`) and the suite's `file`, from the repository root."""
    result, repo = failing
    parsed = JUnitXml.fromstring(junit.render(result))
    located = [check for check in result.checks if check.location]
    assert located
    for suite, exercise in zip(parsed, result.exercises, strict=True):
        properties = {prop.name: prop.value for prop in suite.properties()}
        assert suite._elem.get("file") == f"submissions/alice/{exercise.id}/Dockerfile"
        for check in exercise.checks:
            if not check.location:
                continue
            case = f"{check.rule_id} {check.title}"
            file, line = properties[f"file:{case}"], int(properties[f"line:{case}"])
            assert file == f"submissions/alice/{exercise.id}/Dockerfile"
            assert (repo / file).is_file() and line == check.location.line
