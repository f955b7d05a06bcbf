"""Required checks (gates) against the real engine, through the CLI a learner runs.

Each broken submission here scored 75–81 % before lab 4 had gates, enough for its 70 % pass
mark: now it exits 1 and every report names the gate it failed. Work that misses only checks
that are not required still passes. Only the exercise concerned is graded.
"""

import json
import subprocess
import sys

import pytest

from .conftest import REPO, SUBMISSIONS, TAG_PREFIX

pytestmark = pytest.mark.engine

PASS_MARK = 70
# Tags of their own: another grading of lab4 in the same engine (a parallel test run) tags
# `<prefix>lab4-greeter` too. Still under TAG_PREFIX, so the session's clean-up removes them.
GATES_PREFIX = f"{TAG_PREFIX}gates-"


def grade_cli(folder: str, exercise: str, tmp_path) -> tuple[subprocess.CompletedProcess, dict]:
    """`dockerlab grade lab4 <exercise> --path <folder>`: its terminal report on stdout and
    the same result as JSON."""
    result_file = tmp_path / "result.json"
    done = subprocess.run(
        [sys.executable, "-m", "grader", "grade", "lab4", exercise,
         "--path", str(SUBMISSIONS / folder), "--tag-prefix", GATES_PREFIX, "--quiet",
         "--format", "json", "--output", str(result_file)],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    assert result_file.exists(), done.stdout + done.stderr
    return done, json.loads(result_file.read_text())


def failed_gates(result: dict) -> list[str]:
    (exercise,) = result["exercises"]
    return [gate["rule_id"] for gate in exercise["failed_gates"]]


def check(result: dict, rule_id: str) -> dict:
    (exercise,) = result["exercises"]
    return next(c for c in exercise["checks"] if c["rule_id"] == rule_id)


def one_line(text: str) -> str:
    """The report with its wrapped lines joined, to look for a sentence in it."""
    return " ".join(text.split())


@pytest.mark.parametrize(
    "folder, exercise, gates",
    [
        # `COPY --from=builder / /`: the whole Go SDK ships (it runs and answers).
        pytest.param("gate-whole-builder", "lab", ["ML4-TOOLS", "ML4-SIZE"], id="whole-builder"),
        # ENTRYPOINT ["echo"]: the container prints its CMD and exits 0.
        pytest.param("gate-entrypoint-echo", "lab", ["ML4-RUN"], id="exits-at-once"),
        # The final stage is FROM diamol/maven: Maven and the JDK ship (it runs and answers).
        pytest.param("gate-maven-runtime", "image-of-the-day", ["ML4-TOOLS"], id="maven-runtime"),
        # Only the jar: the JVM crashes at start with NoClassDefFoundError.
        pytest.param("gate-jar-alone", "image-of-the-day", ["ML4-RUN"], id="jar-alone"),
        # No index.html beside the binary: the gallery exits at start.
        pytest.param("gate-scratch-no-page", "image-gallery", ["ML4-RUN"], id="no-page"),
    ],
)
def test_broken_work_fails_its_gate_and_exits_1(folder, exercise, gates, tmp_path,
                                                leaves_nothing_behind):
    done, result = grade_cli(folder, exercise, tmp_path)

    assert done.returncode == 1, done.stdout
    # The score alone would pass: the gate decides.
    assert result["percent"] >= PASS_MARK
    assert failed_gates(result) == gates
    for gate in gates:
        assert check(result, gate)["status"] == "failed" and check(result, gate)["required"]
    assert result["passed"] is False and result["verdict"]["policy"] == "every-exercise"
    assert [reason.split(" (")[0] for reason in result["verdict"]["reasons"]] == [
        f"{exercise}: required check {gate}" for gate in gates]
    # The terminal report names the gates twice: under the exercise, and in the verdict.
    report = one_line(done.stdout)
    assert f"{exercise} FAILED: required {', '.join(gates)}" in report
    for gate in gates:
        assert f"- {exercise}: required check {gate} (" in report
    verdict_line, _summary = [line for line in done.stdout.splitlines() if line.strip()][-2:]
    assert verdict_line.endswith(": FAILED")


def test_a_crash_at_start_shows_its_cause_with_the_run_gate(tmp_path, leaves_nothing_behind):
    """The failed ML4-RUN gate carries the container's log: here, the missing library class."""
    done, result = grade_cli("gate-jar-alone", "image-of-the-day", tmp_path)
    run = check(result, "ML4-RUN")
    assert "exited with code" in run["what"]
    assert "NoClassDefFoundError" in run["details"]
    http = check(result, "ML4-HTTP")
    assert http["status"] == "skipped" and not http["required"]  # not a gate: points only


def test_a_server_that_is_never_started_fails_the_run_gate(tmp_path, leaves_nothing_behind):
    """CMD keeps the container alive (`tail -f /dev/null`) but never starts the server: it
    runs, never answers, and ML4-RUN fails once readiness gives up."""
    done, result = grade_cli("gate-never-serves", "lab", tmp_path)
    assert done.returncode == 1, done.stdout
    assert result["percent"] >= PASS_MARK
    assert failed_gates(result) == ["ML4-RUN"]
    assert "lab: required check ML4-RUN (the container starts and answers) failed" in (
        one_line(done.stdout))


@pytest.mark.parametrize(
    "folder, exercise, missed",
    [
        # index.html copied before `go build`: editing the page recompiles.
        pytest.param("gate-cache-miss", "lab", {"ML4-CACHE"}, id="cache-miss"),
        # COPY . . before `npm ci`: any source change reinstalls.
        pytest.param("copy-all-first", "access-log", {"ML4-ORDER", "ML4-CACHE"},
                     id="copy-all-first"),
    ],
)
def test_missing_only_checks_that_are_not_required_still_passes(folder, exercise, missed,
                                                                tmp_path, leaves_nothing_behind):
    done, result = grade_cli(folder, exercise, tmp_path)

    (graded,) = result["exercises"]
    failed = {c["rule_id"] for c in graded["checks"] if c["status"] == "failed"}
    assert failed == missed and not any(c["required"] for c in graded["checks"]
                                        if c["rule_id"] in missed)
    assert graded["failed_gates"] == [] and graded["passed"] is True
    assert result["percent"] < 100 and result["passed"] is True
    assert result["verdict"]["reasons"] == []
    assert done.returncode == 0, done.stdout
    assert "Verdict: PASSED" in done.stdout
