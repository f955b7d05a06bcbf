"""Grading against the real engine: one lab spec, images tagged apart from a learner's."""

from pathlib import Path

import pytest

from grader.pipeline.config import RunConfig
from grader.runner import grade
from grader.spec import load_lab

REPO = Path(__file__).resolve().parents[2]
SUBMISSIONS = REPO / "tests" / "submissions"
TAG_PREFIX = "dockerlab-test-"
TEST_RUN = RunConfig(tag_prefix=TAG_PREFIX)


@pytest.fixture(scope="session")
def lab4():
    return load_lab(REPO / "labs" / "lab4" / "lab.yml")


@pytest.fixture(scope="session", autouse=True)
def remove_test_images(docker_client):
    """The images the tests' gradings tag are removed once the session ends."""
    yield
    for image in docker_client.images.list(filters={"label": "dockerlab.lab"}):
        for tag in image.tags:
            if tag.startswith(TAG_PREFIX):
                docker_client.images.remove(tag, force=True)


@pytest.fixture
def grade_submission(lab4, engine, leaves_nothing_behind):
    def run(folder: Path, *exercises: str):
        return grade(lab4, folder, engine, list(exercises), config=TEST_RUN)

    return run


def jobs_for(lab, submission: Path, sandbox, names) -> dict:
    """Pipeline jobs for the named exercises of one submission, as the runner makes them."""
    import threading

    from grader.pipeline.job import ExerciseJob

    jobs: dict = {}
    slots = threading.BoundedSemaphore(TEST_RUN.build_slots)
    for name in names:
        jobs[name] = ExerciseJob(lab, lab.exercise(name), submission, sandbox, TEST_RUN, slots, jobs)
    return jobs


def by_rule(exercise_result, rule_id):
    matches = [check for check in exercise_result.checks if check.rule_id == rule_id]
    assert matches, f"no {rule_id} result in {exercise_result.id}"
    return matches[0]
