"""The whole-exercise deadline (`deadline_s`): past it no step starts, the long waits end
at it, and each check it stopped is skipped naming it (issue 9)."""

from __future__ import annotations

import time
from pathlib import Path

from grader.pipeline.deadline import Deadline
from grader.results import Status
from grader.runner import grade
from tests.fake_engine import (
    GO_TWO_STAGES,
    Build,
    FakeEngine,
    Recorded,
    Silent,
    exercise,
    quick_readiness,
    service,
    write_files,
    write_lab,
)


def test_a_deadline_runs_from_its_first_start_and_clamps_waits(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    deadline = Deadline(30)
    assert deadline.clamp(60) == 60 and not deadline.passed  # not started: no bound yet
    deadline.start()
    clock[0] += 20
    deadline.start()  # a second start (prepared, then graded) keeps the first
    assert deadline.clamp(60) == 10 and deadline.clamp(5) == 5
    clock[0] += 10
    assert deadline.passed and deadline.clamp(60) == 0
    assert "deadline of 30 s had passed" in deadline.reason and "`deadline_s`" in deadline.reason


def test_the_deadline_ends_a_readiness_wait_and_skips_what_is_left(tmp_path: Path, monkeypatch):
    quick_readiness(monkeypatch)
    write_files(tmp_path, {"app/Dockerfile": GO_TWO_STAGES, "app/main.go": "package main\n"})
    # A container that keeps a CPU busy and never answers: the ready wait alone is 60 s.
    engine = FakeEngine({"app": Recorded(service=Silent(busy=True))})
    lab = write_lab(tmp_path, exercise(
        "app", deadline_s=1, run=service("web", ready={"path": "/health", "timeout_s": 60}),
        checks=[{"kind": "stages", "points": 5},
                {"kind": "http", "path": "/", "points": 5}],
    ))
    begun = time.monotonic()
    (result,) = grade(lab, tmp_path, engine).exercises
    assert time.monotonic() - begun < 5  # the deadline, plus a margin; not the 60 s wait
    by_rule = {check.rule_id: check for check in result.checks}
    for stopped in ("ML4-RUN", "ML4-HTTP"):
        assert by_rule[stopped].status is Status.SKIPPED
        assert "the exercise's deadline of 1 s had passed" in by_rule[stopped].what
    # What needs no further step is still judged.
    assert by_rule["ML4-STAGES"].status is Status.PASSED
    assert by_rule["ML4-BUILD"].status is Status.PASSED


def test_a_build_gets_no_more_time_than_the_deadline_leaves(tmp_path: Path):
    write_files(tmp_path, {"app/Dockerfile": GO_TWO_STAGES, "app/main.go": "package main\n"})
    given: list[float] = []

    def slow_build(request):
        given.append(request.timeout_s)
        time.sleep(1.1)  # the real builder is stopped at request.timeout_s
        return Build(fails_at="RUN go build", timed_out=True)

    engine = FakeEngine({"app": Recorded(build=slow_build)})
    lab = write_lab(tmp_path, exercise("app", deadline_s=1, build={"timeout_s": 600}))
    (result,) = grade(lab, tmp_path, engine).exercises
    assert len(given) == 1 and given[0] <= 1  # not the build's own 600 s
    (build,) = [check for check in result.checks if check.rule_id == "ML4-BUILD"]
    assert build.status is Status.SKIPPED
    assert "the exercise's deadline of 1 s had passed" in build.what
