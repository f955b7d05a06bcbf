"""The terminal report is as wide as the terminal stdout shows (COLUMNS when set): pinned here,
so no test depends on the terminal pytest runs in. Width tests pass their own width."""

import json
from pathlib import Path

import jsonschema
import pytest

REPORT_COLUMNS = "100"


@pytest.fixture(autouse=True)
def fixed_report_width(monkeypatch):
    monkeypatch.setenv("COLUMNS", REPORT_COLUMNS)


@pytest.fixture(scope="module")
def validator(request) -> jsonschema.Draft202012Validator:
    """The JSON Schema the test module names in SCHEMA_PATH, itself checked first."""
    schema = json.loads(Path(request.module.SCHEMA_PATH).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture
def course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A course repository with a learner's submission (tests/unit/test_formats_github.py),
    the current folder, with no GitHub variables set."""
    from tests.unit.test_formats_github import make_course

    for name in ("GITHUB_WORKSPACE", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKERLAB_CACHE", str(tmp_path / "cache"))
    course = make_course(tmp_path)
    monkeypatch.chdir(course.repo)
    return course
