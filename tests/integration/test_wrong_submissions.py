"""Hand-made wrong submissions: each gets the specific failed check a learner needs."""

import re
import subprocess
import sys

import pytest

from grader.results import Status
from tests.conftest import every_image

from .conftest import REPO, SUBMISSIONS, TAG_PREFIX, by_rule

pytestmark = pytest.mark.engine


def test_single_stage_fails_stages_tools_and_size(grade_submission):
    (lab,) = grade_submission(SUBMISSIONS / "single-stage", "lab").exercises
    stages = by_rule(lab, "ML4-STAGES")
    assert stages.status is Status.FAILED and stages.location.line == 2
    tools = by_rule(lab, "ML4-TOOLS")
    assert tools.status is Status.FAILED and tools.location.line == 2
    assert tools.what.startswith("diamol/golang, your final `FROM` at line 2, contains `go`")
    size = by_rule(lab, "ML4-SIZE")
    assert size.status is Status.FAILED and "the budget is 30 MB" in size.what
    assert by_rule(lab, "ML4-BUILD").status is Status.PASSED


def test_deleting_go_from_an_sdk_base_is_caught_by_its_layers(grade_submission):
    (lab,) = grade_submission(SUBMISSIONS / "rm-go", "lab").exercises
    tools = by_rule(lab, "ML4-TOOLS")
    assert tools.status is Status.FAILED
    assert "deletes `go`" in tools.what and "still ships" in tools.what
    base = by_rule(lab, "ML4-BASE")
    assert base.status is Status.FAILED and base.location.line == 7
    assert by_rule(lab, "ML4-SIZE").status is Status.FAILED


def test_copying_everything_before_npm_breaks_the_cache(
    grade_submission, docker_client, monkeypatch, tmp_path
):
    for attempt in ("first", "again"):
        # No remembered outcome: the probe itself runs each time, against a build cache
        # that still holds whatever the first attempt built.
        monkeypatch.setenv("DOCKERLAB_CACHE", str(tmp_path / attempt))
        before = every_image(docker_client)
        result = grade_submission(SUBMISSIONS / "copy-all-first", "access-log")
        (access_log,) = result.exercises
        order = by_rule(access_log, "ML4-ORDER")
        assert order.status is Status.FAILED and order.location.line == 4
        cache = by_rule(access_log, "ML4-CACHE")
        assert cache.status is Status.FAILED, f"{attempt}: {cache.what}"
        assert "re-ran `RUN npm ci --omit=dev`" in cache.what and "COPY . ." in cache.what
        assert cache.location.line == 4
        # The app itself still works: the learner keeps the points for running it.
        assert by_rule(access_log, "ML4-RUN").status is Status.PASSED
    # Built once and cached, the learner's image adds nothing the second time, and the
    # probe's images (its builder stage's too) are gone.
    assert every_image(docker_client) == before


def test_app_on_the_wrong_port_never_answers(grade_submission, lab4):
    (lab,) = grade_submission(SUBMISSIONS / "wrong-port", "lab").exercises
    run = by_rule(lab, "ML4-RUN")
    assert run.status is Status.FAILED
    assert "did not answer GET /health on container port 80" in run.what
    assert "listen on port 80" in run.fix
    http = by_rule(lab, "ML4-HTTP")
    assert http.status is Status.SKIPPED and "ML4-RUN" in http.what
    assert by_rule(lab, "ML4-SIZE").status is Status.PASSED


def test_syntax_error_names_the_line(grade_submission):
    (lab,) = grade_submission(SUBMISSIONS / "syntax-error", "lab").exercises
    build = by_rule(lab, "ML4-BUILD")
    assert build.status is Status.FAILED
    assert build.location.line == 6 and "FORM" in build.what.upper()
    assert by_rule(lab, "ML4-SIZE").status is Status.SKIPPED


def test_failing_unit_test_fails_the_build_at_that_step(grade_submission):
    (lab,) = grade_submission(SUBMISSIONS / "failing-test", "lab").exercises
    build = by_rule(lab, "ML4-BUILD")
    assert build.status is Status.FAILED
    assert build.location.line == 6 and "go test" in build.what
    assert "broken on purpose" in build.details


def test_container_that_exits_at_once(grade_submission):
    (lab,) = grade_submission(SUBMISSIONS / "exits-at-once", "lab").exercises
    run = by_rule(lab, "ML4-RUN")
    assert run.status is Status.FAILED
    assert "exited with code 3" in run.what and "starting" in run.details


@pytest.mark.parametrize(
    "folder, exercise",
    [
        ("single-stage", "lab"),
        ("rm-go", "lab"),
        ("copy-all-first", "access-log"),
        ("wrong-port", "lab"),
        ("syntax-error", "lab"),
        ("failing-test", "lab"),
        ("exits-at-once", "lab"),
        ("heredoc", "lab"),
        ("stage-after-final", "lab"),
    ],
)
def test_the_cli_reports_a_wrong_submission_without_a_traceback(folder, exercise,
                                                                leaves_nothing_behind):
    done = subprocess.run(
        [sys.executable, "-m", "grader", "grade", "lab4", exercise,
         "--path", str(SUBMISSIONS / folder), "--tag-prefix", TAG_PREFIX],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )
    assert "Traceback" not in done.stdout + done.stderr
    *_, verdict, closing = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    assert re.fullmatch(r"\d+ passed, [1-9]\d* failed(, \d+ skipped)?", closing), closing
    # Partial credit may still reach the pass mark (copy-all-first does): the exit code follows.
    assert done.returncode == (0 if verdict.endswith(": PASSED") else 1), verdict
