"""Submissions in styles the lab's own files never use, graded by Docker's semantics."""

import pytest

from grader.dockerfile import Dockerfile, line_of_step
from grader.pipeline.steps.build import BUILD
from grader.results import Status

from .conftest import SUBMISSIONS, by_rule, jobs_for

pytestmark = pytest.mark.engine


@pytest.mark.parametrize("folder", ["buildkit-platform", "lower-case-scratch"])
def test_valid_docker_in_another_style_scores_everything(grade_submission, folder):
    (lab,) = grade_submission(SUBMISSIONS / folder, "lab").exercises
    failures = [f"{c.rule_id}: {c.what}" for c in lab.checks if c.status is not Status.PASSED]
    assert failures == []
    assert lab.points == lab.max_points


def test_platform_args_leave_step_numbers_and_lines_the_learners(lab4, engine,
                                                                 leaves_nothing_behind):
    submission = SUBMISSIONS / "buildkit-platform"
    dockerfile = submission / "lab" / "Dockerfile"
    with engine.session(owner="tests") as sandbox:
        built = jobs_for(lab4, submission, sandbox, ["lab"])["lab"].value(BUILD).outcome
    assert built.ok, built.error
    parsed = Dockerfile.parse(dockerfile)
    learners = [step for step in built.steps if "dockerlab." not in step.instruction]
    assert learners[0].number == 1
    assert learners[0].instruction == "FROM --platform=$BUILDPLATFORM diamol/golang as builder"
    assert [line_of_step(parsed, step.number, step.instruction) for step in learners] == [
        instruction.line for instruction in parsed.instructions
    ]


def test_a_stage_after_the_real_final_one_is_what_docker_builds(grade_submission):
    (lab,) = grade_submission(SUBMISSIONS / "stage-after-final", "lab").exercises
    stages = by_rule(lab, "ML4-STAGES")
    assert stages.status is Status.FAILED and stages.location.line == 16
    assert "move stage final to the end of the file" in stages.fix
    base = by_rule(lab, "ML4-BASE")
    assert base.status is Status.FAILED and "FROM builder at line 16" in base.what
    assert by_rule(lab, "ML4-TOOLS").status is Status.FAILED
    assert by_rule(lab, "ML4-SIZE").status is Status.FAILED


def test_a_buildkit_heredoc_is_explained_not_just_rejected(grade_submission):
    (lab,) = grade_submission(SUBMISSIONS / "heredoc", "lab").exercises
    build = by_rule(lab, "ML4-BUILD")
    assert build.status is Status.FAILED and build.location.line == 6
    assert "starts a heredoc" in build.what and "only BuildKit reads" in build.what
    assert "joined with `&&`" in build.fix
