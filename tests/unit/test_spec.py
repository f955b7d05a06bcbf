"""lab.yml validation: errors name the file, the line and the field."""

from pathlib import Path

import pytest

from grader.errors import SpecError
from grader.labcheck import missing_files
from grader.spec import load_lab

REPO = Path(__file__).resolve().parents[2]

MINIMAL = """\
version: 1
id: demo
title: Demo
pass_mark: 70
exercises:
  - id: hello
    title: Hello
    dockerfile: hello/Dockerfile
    image: demo-hello
    checks:
      - {kind: size, max_mb: 30, points: 5}
"""


def write(tmp_path: Path, text: str) -> Path:
    spec = tmp_path / "lab.yml"
    spec.write_text(text)
    return spec


def test_the_shipped_lab_is_valid_and_complete():
    lab = load_lab(REPO / "labs" / "lab4" / "lab.yml")
    assert [exercise.id for exercise in lab.exercises] == [
        "multi-stage", "image-of-the-day", "access-log", "image-gallery", "lab",
    ]
    assert missing_files(lab) == []


def test_minimal_spec_gets_documented_defaults(tmp_path):
    lab = load_lab(write(tmp_path, MINIMAL))
    assert lab.network == "nat"
    assert lab.limits.memory_mb == 512
    assert lab.exercises[0].build.points == 10
    assert lab.exercises[0].checks[0].max_mb == 30


def test_unknown_key_is_named_with_its_line(tmp_path):
    spec = write(tmp_path, MINIMAL.replace("    image: demo-hello\n", "    image: demo-hello\n    colour: blue\n"))
    with pytest.raises(SpecError) as raised:
        load_lab(spec)
    assert "lab.yml:10: exercises[0].colour: unknown key 'colour'" in raised.value.message


def test_negative_budget_is_named_with_its_line(tmp_path):
    spec = write(tmp_path, MINIMAL.replace("max_mb: 30", "max_mb: -5"))
    with pytest.raises(SpecError) as raised:
        load_lab(spec)
    assert "lab.yml:11: exercises[0].checks[0].max_mb:" in raised.value.message
    assert "greater than 0" in raised.value.message


def test_unknown_check_kind_is_refused(tmp_path):
    spec = write(tmp_path, MINIMAL.replace("kind: size", "kind: sise"))
    with pytest.raises(SpecError) as raised:
        load_lab(spec)
    assert "checks[0]" in raised.value.message and "sise" in raised.value.message


def test_broken_yaml_names_its_line(tmp_path):
    spec = write(tmp_path, MINIMAL.replace("title: Demo", "title: [Demo"))
    with pytest.raises(SpecError) as raised:
        load_lab(spec)
    assert "not valid YAML" in raised.value.message and "lab.yml:" in raised.value.message


def test_missing_dockerfile_is_named(tmp_path):
    lab = load_lab(write(tmp_path, MINIMAL))
    problems = missing_files(lab)
    assert any("hello: starter Dockerfile" in problem and "hello/Dockerfile" in problem for problem in problems)
    assert any("hello: solution Dockerfile" in problem for problem in problems)


def test_dependency_on_unknown_exercise_is_refused(tmp_path):
    text = MINIMAL + "    run: {name: hello, depends_on: [ghost]}\n"
    with pytest.raises(SpecError) as raised:
        load_lab(write(tmp_path, text))
    assert "ghost" in raised.value.message


def test_dependency_listed_after_its_caller_is_refused(tmp_path):
    caller = MINIMAL + "    run: {name: hello, depends_on: [api]}\n"
    api = (
        "  - id: api\n    title: API\n    dockerfile: api/Dockerfile\n    image: demo-api\n"
        "    run: {name: api}\n"
    )
    with pytest.raises(SpecError) as raised:
        load_lab(write(tmp_path, caller + api))
    assert "'hello' depends on 'api', which is not started before it" in raised.value.message
    assert "list 'api' earlier" in raised.value.message
    # Listed first, the same two exercises are a valid lab.
    first = MINIMAL.replace("exercises:\n", "exercises:\n" + api)
    assert [e.id for e in load_lab(write(tmp_path, first + "    run: {name: hello, depends_on: [api]}\n")).exercises] == ["api", "hello"]
