"""The shipped lab end to end: reference solutions score 100%, the starter files score low,
every report format renders the same result, and the CLI's exit codes follow the pass mark."""

import json
import subprocess
import sys

import pytest
import requests
from junitparser import JUnitXml

from grader.reporters import render
from grader.results import Status
from grader.pipeline.steps.run import STARTED
from grader.runner import grade

from .conftest import REPO, TAG_PREFIX, TEST_RUN, by_rule, jobs_for

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def solution_result(lab4, engine):
    return grade(lab4, lab4.solution_dir, engine, config=TEST_RUN)


def test_reference_solutions_score_everything(solution_result):
    failures = [f"{c.name}: {c.what}" for c in solution_result.checks if c.status is not Status.PASSED and c.max_points]
    assert failures == []
    assert solution_result.percent == 100.0 and solution_result.passed


def test_reference_images_lack_build_tools_and_fit_their_budgets(solution_result, docker_client):
    for exercise in ("image-of-the-day", "image-gallery", "lab"):
        result = next(e for e in solution_result.exercises if e.id == exercise)
        assert by_rule(result, "ML4-TOOLS").status is Status.PASSED
    starter_like = docker_client.images.get("diamol/golang").attrs["Size"]
    for exercise in ("image-gallery", "lab"):
        size = docker_client.images.get(TAG_PREFIX + ("lab4-greeter" if exercise == "lab" else exercise)).attrs["Size"]
        assert size < 30_000_000
        assert size < 0.05 * starter_like


def test_junit_report_parses_back_with_every_check(solution_result, tmp_path):
    parsed = JUnitXml.fromstring(render(solution_result, "junit"))
    assert parsed.tests == len(solution_result.checks)
    assert (parsed.failures, parsed.errors) == (0, 0)


def test_gradescope_report_has_the_fields_gradescope_reads(solution_result):
    report = json.loads(render(solution_result, "gradescope"))
    assert report["score"] == solution_result.points
    assert report["extra_data"]["max_score"] == solution_result.max_points
    assert len(report["tests"]) == len(solution_result.checks)
    for test in report["tests"]:
        assert {"name", "score", "max_score", "output"} <= test.keys()


def test_starter_files_score_low_and_say_where(lab4, engine, leaves_nothing_behind):
    result = grade(lab4, lab4.lab_dir, engine, config=TEST_RUN)
    assert not result.passed and result.percent < lab4.pass_mark
    failed = [check for check in result.checks if check.status is Status.FAILED]
    assert failed
    for check in failed:
        has_line = check.location is not None and check.location.line is not None
        has_figure = any(ch.isdigit() for ch in check.what)
        assert has_line or has_figure, f"{check.name}: {check.what} names no line or figure"
        assert check.fix, f"{check.name} says nothing about how to fix it"


def test_cli_exit_codes_follow_the_pass_mark(tmp_path):
    dockerlab = [sys.executable, "-m", "grader"]
    passed = subprocess.run(
        [*dockerlab, "grade", "lab4", "--solution", "--quiet", "--tag-prefix", TAG_PREFIX,
         "--format", "json", "--output", str(tmp_path / "result.json")],
        cwd=REPO, capture_output=True, text=True,
    )
    assert passed.returncode == 0, passed.stdout + passed.stderr
    solved = json.loads((tmp_path / "result.json").read_text())
    assert solved["percent"] == 100.0
    assert solved["verdict"]["passed"] and solved["verdict"]["reasons"] == []
    assert all(exercise["passed"] and not exercise["failed_gates"]
               for exercise in solved["exercises"])
    closing = [line for line in passed.stdout.splitlines() if line.strip()][-1]
    assert closing.endswith("0 failed")
    bad_spec = tmp_path / "lab.yml"
    bad_spec.write_text("version: 1\nid: x\n")
    broken = subprocess.run([*dockerlab, "grade", str(bad_spec)], cwd=REPO, capture_output=True, text=True)
    assert broken.returncode == 2 and "Traceback" not in broken.stderr
    assert "required key is missing" in broken.stderr


def test_the_three_apps_work_together_on_nat(lab4, engine, leaves_nothing_behind):
    """The gallery shows image-of-the-day's caption; each visit adds one to the access log."""
    names = ("image-of-the-day", "access-log", "image-gallery")
    with engine.session(owner="tests") as sandbox:
        jobs = jobs_for(lab4, lab4.solution_dir, sandbox, names)
        for name in names:
            jobs[name].prepare()
        services = {name: jobs[name].known(STARTED).service for name in names}
        assert all(jobs[name].known(STARTED).ready for name in names)
        caption = requests.get(services["image-of-the-day"].url("/image"), timeout=5).json()["caption"]
        count = lambda: requests.get(services["access-log"].url("/access-log"), timeout=5).json()["logs"]
        before = count()
        page = requests.get(services["image-gallery"].url("/"), timeout=10)
        assert page.status_code == 200 and caption in page.text
        assert count() == before + 1
        requests.get(services["image-gallery"].url("/"), timeout=10)
        assert count() == before + 2
