"""Gradings side by side on one engine, as a class or a CI runner starts them: each scores
exactly what it scores alone. All of them use the same image tags (one `--tag-prefix`, as
if none were given); each has its own network, containers and host ports, and uses its
images by ID, so none can call another's service or grade another's image. A learner's own
container on the chapter's `nat` does not disturb a grading either."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from grader.engine import OWNER_LABEL

from .conftest import REPO, TAG_PREFIX

pytestmark = pytest.mark.engine
TESTS = {OWNER_LABEL: "tests"}


def start_grading(report: Path, *options: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "grader", "grade", "lab4", *options, "--quiet",
         "--format", "json", "--output", str(report), "--tag-prefix", TAG_PREFIX],
        cwd=REPO, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )


def graded_together(tmp_path: Path, *submissions: tuple[str, ...]) -> list[dict]:
    """Start one `dockerlab grade` per submission at once; each one's JSON result."""
    reports = [tmp_path / f"{uuid.uuid4().hex}.json" for _ in submissions]
    gradings = [start_grading(report, *options) for report, options in zip(reports, submissions, strict=True)]
    for grading in gradings:
        _, stderr = grading.communicate(timeout=900)
        assert grading.returncode in (0, 1), stderr
    return [json.loads(report.read_text()) for report in reports]


def checks(result: dict) -> dict[tuple[str, str], tuple[str, float]]:
    """(exercise, check) -> (status, points): what a grading decided, check by check."""
    return {
        (exercise["id"], check["rule_id"] + ":" + check["title"]): (check["status"], check["points"])
        for exercise in result["exercises"]
        for check in exercise["checks"]
    }


SOLUTION = ("--solution",)
STARTER = ()  # the lab's own folder: what a learner starts from


def test_three_gradings_of_the_solution_at_once_all_score_full_marks(
        tmp_path, leaves_nothing_behind):
    results = graded_together(tmp_path, SOLUTION, SOLUTION, SOLUTION)
    for result in results:
        assert result["percent"] == 100, [
            (name, decided) for name, decided in checks(result).items() if decided[0] != "passed"
        ]


def test_a_solution_and_a_starter_graded_together_score_as_they_do_alone(
        tmp_path, leaves_nothing_behind):
    alone = [graded_together(tmp_path, submission)[0] for submission in (SOLUTION, STARTER)]
    together = graded_together(tmp_path, SOLUTION, STARTER)
    for by_itself, beside_another in zip(alone, together, strict=True):
        assert checks(beside_another) == checks(by_itself)
    assert together[0]["percent"] == 100 and together[1]["percent"] < 100


@pytest.fixture
def learners_nat(docker_client):
    """The chapter's `nat` with a learner's own container on it answering to `greeter`, a
    name the lab's containers use; whatever existed before is left as it was."""
    existed = any(n["Name"] == "nat" for n in docker_client.api.networks(names=["nat"]))
    network = docker_client.networks.get("nat") if existed else docker_client.networks.create(
        "nat", driver="bridge", labels=TESTS)
    squatter = docker_client.containers.create(
        "diamol/base", ["sleep", "300"], name=f"dockerlab-test-squatter-{uuid.uuid4().hex[:8]}",
        labels=TESTS, network="nat",
        networking_config={"nat": docker_client.api.create_endpoint_config(aliases=["greeter"])},
    )
    try:
        squatter.start()
        yield network, squatter
    finally:
        squatter.remove(force=True)
        if not existed:
            network.remove()


def test_a_learners_own_container_on_nat_does_not_disturb_a_grading(
        grade_submission, lab4, learners_nat):
    network, squatter = learners_nat
    (lab,) = grade_submission(lab4.solution_dir, "lab").exercises
    assert lab.percent == 100
    network.reload()
    assert list(network.attrs["Containers"]) == [squatter.id]  # the grader never joined it
