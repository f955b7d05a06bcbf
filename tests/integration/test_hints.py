"""Every hint lab 4 ships, triggered by a submission of its trap against the real engine:
the hint's advice leads the failing check's "how to fix"."""

import pytest

from grader.results import Status

from .conftest import SUBMISSIONS, by_rule

pytestmark = pytest.mark.engine

# hint id -> (submission folder, exercise, the check whose failure it explains)
TRAPS = {
    "jar-without-libraries": ("hint-jar-only", "image-of-the-day", "ML4-RUN"),
    "node-modules-missing": ("hint-no-node-modules", "access-log", "ML4-RUN"),
    "template-missing": ("hint-no-template", "image-gallery", "ML4-RUN"),
    "wrong-cpu-architecture": ("hint-wrong-arch", "lab", "ML4-RUN"),
    "binary-not-runnable": ("hint-dynamic-binary", "lab", "ML4-RUN"),
    "port-in-use": ("hint-port-in-use", "lab", "ML4-RUN"),
    "npm-ci-without-lock-file": ("hint-npm-ci-no-lock", "access-log", "ML4-BUILD"),
    "maven-offline-too-early": ("hint-maven-offline", "image-of-the-day", "ML4-BUILD"),
}


def test_every_shipped_hint_has_a_trap_here(lab4):
    assert {hint.id for hint in lab4.hints} == set(TRAPS)


@pytest.mark.parametrize("hint_id", sorted(TRAPS))
def test_the_trap_is_explained_by_its_hint(hint_id, lab4, grade_submission):
    folder, exercise, rule = TRAPS[hint_id]
    result = grade_submission(SUBMISSIONS / folder, exercise)
    graded = next(item for item in result.exercises if item.id == exercise)
    failed = by_rule(graded, rule)
    assert failed.status is Status.FAILED, failed.what
    hint = next(hint for hint in lab4.hints if hint.id == hint_id)
    assert failed.fix.startswith(hint.advice), failed.fix
    assert f"(hint: {hint_id})" in failed.fix.splitlines()[0]
