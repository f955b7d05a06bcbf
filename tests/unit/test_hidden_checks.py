"""Hidden checks (`hidden: true`): a learner's run neither runs nor shows them, an
instructor's run judges them like any other (issue 12)."""

from __future__ import annotations

from pathlib import Path

from grader.pipeline.config import RunConfig
from grader.reporters import FORMATS, render
from grader.runner import grade
from tests.fake_engine import (
    GO_TWO_STAGES,
    Answers,
    FakeEngine,
    Recorded,
    exercise,
    quick_readiness,
    service,
    write_files,
    write_lab,
)

HIDDEN_PATH = "/admin/secret-route"


def graded(tmp_path: Path, monkeypatch, instructor: bool):
    quick_readiness(monkeypatch)
    write_files(tmp_path, {"app/Dockerfile": GO_TWO_STAGES, "app/main.go": "package main\n"})
    lab = write_lab(tmp_path, exercise(
        "app", run=service("web"),
        checks=[{"kind": "stages", "points": 5},
                {"kind": "http", "path": HIDDEN_PATH, "points": 5, "hidden": True}],
    ))
    engine = FakeEngine({"app": Recorded(service=Answers({"GET /health": (200, "ok"),
                                                          f"GET {HIDDEN_PATH}": (200, "ok")}))})
    result = grade(lab, tmp_path, engine, config=RunConfig(instructor=instructor))
    calls = [call.args["path"] for sandbox in engine.sandboxes for call in sandbox.made("http")]
    return result, calls


def test_a_learners_run_neither_runs_nor_shows_a_hidden_check(tmp_path, monkeypatch):
    result, calls = graded(tmp_path, monkeypatch, instructor=False)
    (app,) = result.exercises
    assert sorted(check.rule_id for check in app.checks) == ["ML4-BUILD", "ML4-RUN", "ML4-STAGES"]
    assert HIDDEN_PATH not in calls  # not run
    assert app.max_points == 10 + 10 + 5  # nor counted
    for fmt in FORMATS:
        assert HIDDEN_PATH not in render(result, fmt)  # nor shown


def test_an_instructors_run_judges_the_hidden_check(tmp_path, monkeypatch):
    result, calls = graded(tmp_path, monkeypatch, instructor=True)
    (app,) = result.exercises
    (hidden,) = [check for check in app.checks if check.hidden]
    assert hidden.rule_id == "ML4-HTTP" and hidden.points == 5
    assert HIDDEN_PATH in calls
    assert app.max_points == 30 and result.to_dict()["exercises"][0]["checks"][-1]["hidden"]
