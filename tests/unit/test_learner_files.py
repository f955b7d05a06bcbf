"""A submission's files are read only when they are regular files inside it and within the
caps: a link to the grader's host, a FIFO, a huge or endless file is a verdict (ML4-BUILD),
never a crash, and nothing of the refused file reaches any report."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import pytest

from grader.pipeline.learner_files import DOCKERFILE_MAX_BYTES, MAX_LINES
from grader.reporters import FORMATS, render
from grader.results import LabResult, Status
from grader.runner import grade
from tests.fake_engine import (
    FakeEngine,
    exercise,
    exercise_jobs,
    quick_readiness,
    write_files,
    write_lab,
)

GO = """\
FROM diamol/golang:2e AS builder
COPY main.go .
RUN go build -o /server
FROM diamol/base:2e
CMD ["/server"]
COPY --from=builder /server /server
"""


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DOCKERLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    quick_readiness(monkeypatch)


def canary() -> str:
    return f"CANARY-{secrets.token_hex(12)}"


def submission_of(tmp_path: Path, files: dict[str, str], **keys) -> Path:
    """tmp_path/sub: the lab (one exercise, `app`) and the learner's files; tmp_path itself
    stands for the grader's host, outside the submission."""
    sub = tmp_path / "sub"
    write_files(sub, {"app/main.go": "package main\n", **files})
    write_lab(sub, exercise("app", checks=[{"kind": "stages", "points": 1}], **keys))
    return sub


def graded(sub: Path) -> tuple[LabResult, FakeEngine]:
    from grader.spec import load_lab

    engine = FakeEngine()
    return grade(load_lab(sub / "lab.yml"), sub, engine), engine


def every_report(result: LabResult) -> str:
    return "\n".join(render(result, fmt) for fmt in FORMATS)


def assert_refused(result: LabResult, engine: FakeEngine, *phrases: str) -> str:
    """ML4-BUILD fails with the reason, static checks are skipped with it, nothing is built."""
    (ex,) = result.exercises
    checks = {check.rule_id: check for check in ex.checks}
    build = checks["ML4-BUILD"]
    assert build.status is Status.FAILED
    for phrase in phrases:
        assert phrase in build.what
    assert build.fix
    assert checks["ML4-STAGES"].status is Status.SKIPPED
    assert phrases[0] in checks["ML4-STAGES"].what and "(ML4-BUILD)" in checks["ML4-STAGES"].what
    assert not [call for sandbox in engine.sandboxes for call in sandbox.calls
                if call.name == "build"]
    return build.what


def test_a_dockerfile_linked_to_a_host_file_is_refused_and_never_shown(tmp_path: Path):
    secret = canary()
    host_file = tmp_path / "host-secret.txt"
    host_file.write_text(f"{secret}\nFROM scratch\n")
    sub = submission_of(tmp_path, {})
    (sub / "app" / "Dockerfile").symlink_to(host_file)

    result, engine = graded(sub)

    what = assert_refused(result, engine, "app/Dockerfile is a symbolic link to a file outside "
                          "your submission")
    assert "host-secret" not in what
    reports = every_report(result)
    assert secret not in reports
    assert "host-secret" not in reports


def test_a_dockerfile_linked_to_proc_self_environ_shows_no_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    secret = canary()
    monkeypatch.setenv("DOCKERLAB_TEST_SECRET", secret)
    sub = submission_of(tmp_path, {})
    (sub / "app" / "Dockerfile").symlink_to("/proc/self/environ")

    result, engine = graded(sub)

    assert_refused(result, engine, "outside your submission")
    reports = every_report(result)
    assert secret not in reports
    assert "environ" not in reports


def test_a_dockerignore_linked_out_of_the_submission_is_refused(tmp_path: Path):
    secret = canary()
    host_file = tmp_path / "host-ignore"
    host_file.write_text(f"{secret}\n")
    sub = submission_of(tmp_path, {"app/Dockerfile": GO})
    (sub / "app" / ".dockerignore").symlink_to(host_file)

    result, engine = graded(sub)

    assert_refused(result, engine, "app/.dockerignore is a symbolic link to a file outside")
    assert secret not in every_report(result)


def test_a_fifo_dockerfile_is_refused_without_blocking(tmp_path: Path):
    sub = submission_of(tmp_path, {})
    os.mkfifo(sub / "app" / "Dockerfile")

    started = time.monotonic()
    result, engine = graded(sub)

    assert time.monotonic() - started < 5
    assert_refused(result, engine, "app/Dockerfile is a named pipe (FIFO), not a regular file")


def test_an_oversized_dockerfile_is_refused_naming_the_cap(tmp_path: Path):
    secret = canary()
    big = GO + f"# {secret}\n" + "#" * (DOCKERFILE_MAX_BYTES + 10) + "\n"
    sub = submission_of(tmp_path, {"app/Dockerfile": big})

    result, engine = graded(sub)

    size = len(big.encode())
    assert_refused(result, engine, f"app/Dockerfile is {size:,} bytes",
                   f"at most {DOCKERFILE_MAX_BYTES:,} bytes (256 KiB)")
    assert secret not in every_report(result)


def test_a_ten_thousand_line_dockerfile_is_refused_quickly_by_the_line_cap(tmp_path: Path):
    secret = canary()
    text = f"FROM diamol/base:2e\nRUN echo {secret} \\\n" + "    && true \\\n" * 10_000 + "    && true\n"
    sub = submission_of(tmp_path, {"app/Dockerfile": text})
    assert len(text.encode()) < DOCKERFILE_MAX_BYTES  # the line cap, not the size cap

    started = time.monotonic()
    result, engine = graded(sub)

    assert time.monotonic() - started < 2
    assert_refused(result, engine, "app/Dockerfile has 10,003 lines", f"at most {MAX_LINES:,} lines")
    assert secret not in every_report(result)


def test_a_dockerignore_that_is_not_utf8_is_read_as_docker_reads_it(tmp_path: Path):
    sub = submission_of(tmp_path, {"app/Dockerfile": GO})
    (sub / "app" / ".dockerignore").write_bytes(b"# caf\xe9\nnode_modules\n\xff\xfe*.log\n")

    result, engine = graded(sub)

    (ex,) = result.exercises
    statuses = {check.rule_id: check.status for check in ex.checks}
    assert statuses == {"ML4-BUILD": Status.PASSED, "ML4-STAGES": Status.PASSED}
    (build,) = engine.sandboxes[0].made("build", "app")
    assert build.args["request"].exclude == ("node_modules", "\ufffd\ufffd*.log")


def test_a_link_that_stays_inside_the_submission_is_read(tmp_path: Path):
    sub = submission_of(tmp_path, {"shared/Dockerfile.go": GO, "shared/ignore": "*.md\n"})
    (sub / "app" / "Dockerfile").symlink_to("../shared/Dockerfile.go")
    (sub / "app" / ".dockerignore").symlink_to(sub / "shared" / "ignore")

    result, engine = graded(sub)

    (ex,) = result.exercises
    assert {check.rule_id: check.status for check in ex.checks} == {
        "ML4-BUILD": Status.PASSED, "ML4-STAGES": Status.PASSED}
    (build,) = engine.sandboxes[0].made("build", "app")
    assert build.args["request"].exclude == ("*.md",)


def test_the_labs_own_dockerignore_outside_the_submission_is_read(tmp_path: Path):
    lab_dir = tmp_path / "lab"
    write_files(lab_dir, {"apps/web/main.go": "package main\n", "apps/web/.dockerignore": "*.tmp\n"})
    lab = write_lab(lab_dir, exercise("app", context="apps/web",
                                      checks=[{"kind": "stages", "points": 1}]))
    sub = tmp_path / "sub"
    write_files(sub, {"app/Dockerfile": GO})

    engine = FakeEngine()
    (ex,) = grade(lab, sub, engine).exercises

    assert {check.rule_id: check.status for check in ex.checks}["ML4-BUILD"] is Status.PASSED
    (build,) = engine.sandboxes[0].made("build", "app")
    assert build.args["request"].exclude == ("*.tmp",)


def test_hadolint_is_not_run_on_a_dockerfile_past_its_line_bound(tmp_path, monkeypatch):
    """hadolint's memory grows with the square of one long instruction: past the bound, lint
    is skipped with the figure instead of run (and never started)."""
    from grader.pipeline.steps import parse

    started = []
    monkeypatch.setattr(parse, "run_hadolint", lambda *args: started.append(args))
    long_run = "FROM diamol/base\nRUN true \\\n" + "  && true \\\n" * 1_500 + "  && true\n"
    sub = submission_of(tmp_path, {"app/Dockerfile": long_run})
    from grader.spec import load_lab

    lab = load_lab(sub / "lab.yml")
    job = exercise_jobs(lab, sub, FakeEngine().session())["app"]
    report = job.value(parse.Lint(()))
    assert started == []
    assert "1,503 lines" in report.skipped and "up to 1,000" in report.skipped
