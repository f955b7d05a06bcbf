"""The runner on a fake engine: what is skipped and why, what is built, started and
remembered, and that results come in the lab's order however the exercises interleave."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from grader import runner
from grader.checks.forbidden_tools import ForbiddenToolsCheck
from grader.checks.size import SizeCheck
from grader.engine import Completion
from grader.errors import EngineError, SpecError
from grader.pipeline.config import RunConfig
from grader.results import CheckResult, ExerciseResult, Status
from grader.runner import grade
from grader.spec import LabSpec
from tests.fake_engine import (
    Answers,
    Build,
    Exits,
    FakeEngine,
    FakeSandbox,
    Ran,
    Recorded,
    exercise,
    quick_readiness,
    service,
    GO_TWO_STAGES,
    write_files,
    write_lab,
)

GO = GO_TWO_STAGES
NODE = GO.replace("diamol/golang:2e", "diamol/node:2e").replace("go build", "npm ci")

NOT_BUILT = "not checked: the image did not build (ML4-BUILD)"
NOT_RUNNING = "not checked: the container did not start and answer (ML4-RUN)"
NO_RUN = "not checked: the lab gives this exercise no `run:` section"

IMAGE_JSON = json.dumps({"url": "https://apod.nasa.gov/a.jpg", "caption": "Sun & Moon"})
CAPTION = {"kind": "http", "path": "/", "points": 5,
           "text_from": {"exercise": "iotd", "path": "/image", "key": "caption"}}
EVERY_LATER_CHECK = [
    {"kind": "size", "max_mb": 30, "points": 1},
    {"kind": "metadata", "exposed_ports": [80], "points": 1},
    {"kind": "non-root-user", "points": 1},
    {"kind": "forbidden-tools", "tools": ["go"], "points": 1},
    {"kind": "cache", "change": "main.go", "cached_step": "go build", "points": 1},
    {"kind": "http", "path": "/", "points": 1},
    {"kind": "command", "command": "ls /server", "points": 1},
    {"kind": "output", "contains": ["listening"], "points": 1},
]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DOCKERLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    quick_readiness(monkeypatch)


class Recording:
    """A progress sink that keeps what it was told, in order."""

    def __init__(self):
        self.events: list[tuple[str, ...]] = []
        self.lines: list[str] = []

    def exercise_started(self, exercise_id: str, title: str) -> None:
        self.events.append(("started", exercise_id))

    def line(self, text: str) -> None:
        self.lines.append(text)

    def check_done(self, result: CheckResult) -> None:
        self.events.append(("check", result.exercise, result.rule_id))


def statuses(result: ExerciseResult) -> dict[str, tuple[Status, str]]:
    return {check.rule_id: (check.status, check.what) for check in result.checks}


def skipped(result: ExerciseResult) -> dict[str, str]:
    return {check.rule_id: check.what for check in result.checks
            if check.status is Status.SKIPPED}


def one_exercise(tmp_path: Path, dockerfile: str, checks: list[dict], **keys) -> LabSpec:
    """A lab of one exercise, `app`."""
    write_files(tmp_path, {"app/Dockerfile": dockerfile, "app/main.go": "package main\n"})
    return write_lab(tmp_path, exercise("app", checks=checks, **keys))


def iotd_and_gallery(tmp_path: Path, gallery_run: dict | None = None) -> LabSpec:
    """image-of-the-day serves a caption; the gallery's page must show it."""
    write_files(tmp_path, {"iotd/Dockerfile": GO, "gallery/Dockerfile": NODE,
                           "iotd/main.go": "package main\n", "gallery/main.go": "package main\n"})
    run = gallery_run or service("gallery", depends_on=["iotd"])
    return write_lab(
        tmp_path,
        exercise("iotd", run=service("iotd"), checks=[{"kind": "stages", "points": 1}]),
        exercise("gallery", run=run, checks=[CAPTION]),
    )


def two_services() -> FakeEngine:
    return FakeEngine({
        "iotd": Recorded(service=Answers({"GET /image": (200, IMAGE_JSON)})),
        "gallery": Recorded(service=Answers({"GET /": (200, "<p>Sun &amp; Moon</p>")})),
    })


# --- what is skipped, and why ---------------------------------------------------------------


def test_a_failed_build_skips_every_check_of_the_image_and_builds_nothing_more(tmp_path: Path):
    lab = one_exercise(tmp_path, GO, [{"kind": "stages", "points": 1}, *EVERY_LATER_CHECK],
                       run=service("web"))
    failing = Build(fails_at="RUN go build", error="returned a non-zero code: 1")
    engine = FakeEngine({"app": Recorded(build=failing)})
    (result,) = grade(lab, tmp_path, engine).exercises

    assert [check.rule_id for check in result.checks] == [
        "ML4-STAGES", "ML4-BUILD", "ML4-SIZE", "ML4-META", "ML4-USER", "ML4-TOOLS",
        "ML4-CACHE", "ML4-RUN", "ML4-HTTP", "ML4-CMD", "ML4-OUTPUT",
    ]  # phase order: the Dockerfile, the build, the image, the cache probe, the container
    assert statuses(result)["ML4-STAGES"][0] is Status.PASSED
    assert statuses(result)["ML4-BUILD"][0] is Status.FAILED
    assert skipped(result) == {rule: NOT_BUILT for rule in statuses(result)
                               if rule not in ("ML4-STAGES", "ML4-BUILD")}
    assert all(check.points == 0 and check.max_points > 0 for check in result.checks
               if check.status is Status.SKIPPED)
    sandbox = engine.sandboxes[0]
    assert [call.name for call in sandbox.calls if call.name != "close"] == ["build"]


def test_an_unparsable_dockerfile_skips_the_static_checks_with_the_parse_error(tmp_path: Path):
    static = [{"kind": "stages", "points": 1}, {"kind": "final-base", "allowed": ["diamol/base"]},
              {"kind": "dependency-order", "step": "go build", "inputs": ["main.go"]},
              {"kind": "instructions", "expose": [80]}, {"kind": "lint", "points": 1}]
    lab = one_exercise(tmp_path, "FROM diamol/base:2e\nFORM diamol/base\n", static)
    rejected = Build(error="dockerfile parse error line 2: unknown instruction: FORM")
    (result,) = grade(lab, tmp_path, FakeEngine({"app": Recorded(build=rejected)})).exercises

    reason = ("not checked: the Dockerfile does not parse (line 2: unknown instruction: FORM); "
              "see ML4-BUILD")
    assert skipped(result) == {rule: reason for rule in
                               ("ML4-STAGES", "ML4-BASE", "ML4-ORDER", "ML4-INSTR", "ML4-LINT")}
    build = statuses(result)["ML4-BUILD"]
    assert build == (Status.FAILED, "Docker rejected the Dockerfile: dockerfile parse error "
                     "line 2: unknown instruction: FORM")


def test_a_container_that_exits_skips_the_checks_that_call_it(tmp_path: Path):
    checks = [{"kind": "http", "path": "/", "points": 1},
              {"kind": "command", "command": "ls /server", "points": 1},
              {"kind": "output", "contains": ["listening"], "points": 1}]
    lab = one_exercise(tmp_path, GO, checks, run=service("web"))
    engine = FakeEngine({"app": Recorded(service=Exits(1, "panic: no config"),
                                         completion=Completion(0, "listening on :80"))})
    (result,) = grade(lab, tmp_path, engine).exercises

    assert statuses(result)["ML4-RUN"][0] is Status.FAILED
    assert skipped(result) == {"ML4-HTTP": NOT_RUNNING, "ML4-CMD": NOT_RUNNING}
    # Running the image to completion needs no service: it is still judged.
    assert statuses(result)["ML4-OUTPUT"][0] is Status.PASSED
    sandbox = engine.sandboxes[0]
    assert sandbox.made("http") == [] and sandbox.made("exec") == []


def test_an_exercise_without_run_skips_the_checks_that_call_its_container(tmp_path: Path):
    lab = one_exercise(tmp_path, GO, [{"kind": "command", "command": "ls /server", "points": 1}])
    engine = FakeEngine()
    (result,) = grade(lab, tmp_path, engine).exercises

    assert [check.rule_id for check in result.checks] == ["ML4-BUILD", "ML4-CMD"]  # no ML4-RUN
    assert skipped(result) == {"ML4-CMD": NO_RUN}
    assert engine.sandboxes[0].made("start_service") == []


def test_an_http_check_without_run_is_refused_by_the_spec(tmp_path: Path):
    with pytest.raises(SpecError, match="calls container port 80, which `run.ports` does not "
                       "publish"):
        one_exercise(tmp_path, GO, [{"kind": "http", "path": "/", "points": 1}])


def test_a_grader_bug_in_a_check_fails_that_check_only(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch):
    def broken(self, facts):
        return 1 / 0

    monkeypatch.setattr(SizeCheck, "judge", broken)
    lab = one_exercise(tmp_path, GO, EVERY_LATER_CHECK[:2])
    engine = FakeEngine({"app": Recorded(image={"exposed_ports": ("80/tcp",)})})
    (result,) = grade(lab, tmp_path, engine).exercises

    (size,) = [check for check in result.checks if check.rule_id == "ML4-SIZE"]
    assert size.status is Status.FAILED and size.points == 0
    assert size.what == ("The grader failed inside this check (ZeroDivisionError: division by "
                         "zero). This is a problem of the grader, not of your work.")
    assert size.fix == "Report it to your instructor with the details below."
    assert "ZeroDivisionError" in size.details
    assert statuses(result)["ML4-META"][0] is Status.PASSED


def test_a_grader_bug_in_a_costly_check_is_not_remembered(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch):
    lab = one_exercise(tmp_path, GO, [{"kind": "forbidden-tools", "tools": ["go"], "points": 1}])
    engine = FakeEngine()
    with monkeypatch.context() as patched:
        patched.setattr(ForbiddenToolsCheck, "judge", lambda self, facts: 1 / 0)
        (broken,) = grade(lab, tmp_path, engine).exercises
    assert "problem of the grader" in statuses(broken)["ML4-TOOLS"][1]
    (fixed,) = grade(lab, tmp_path, engine).exercises
    assert statuses(fixed)["ML4-TOOLS"] == (Status.PASSED, "None of go is in the image's layers.")


# --- what is built, started and remembered ---------------------------------------------------


def test_nothing_is_built_inspected_or_started_twice(tmp_path: Path):
    checks = [
        *EVERY_LATER_CHECK,
        {"kind": "forbidden-tools", "tools": ["mvn"], "points": 2},  # the same layers
        {"kind": "cache", "change": "main.go", "cached_step": "go build", "points": 2},
        {"kind": "http", "path": "/", "points": 2},  # the same request
        {"kind": "http", "path": "/health", "points": 2},
    ]
    write_files(tmp_path, {"app/Dockerfile": GO, "app/main.go": "package main\n",
                           "other/Dockerfile": NODE, "other/main.go": "package main\n"})
    lab = write_lab(tmp_path, exercise("app", run=service("web"), checks=checks),
                    exercise("other", run=service("other"), checks=checks))
    engine = FakeEngine({"app": Recorded(commands={"ls /server": Ran(0, "/server")}),
                         "other": Recorded(commands={"ls /server": Ran(0, "/server")})})
    result = grade(lab, tmp_path, engine)

    assert result.count(Status.SKIPPED) == 0, [check.what for check in result.checks]
    sandbox = engine.sandboxes[0]
    for name in ("app", "other"):
        assert len(sandbox.made("build", name, throwaway=False)) == 1
        assert len(sandbox.made("build", name, throwaway=True)) == 1  # one cache probe
        assert len(sandbox.made("image_facts", name)) == 1
        assert len(sandbox.made("image_layers", name)) == 1
        assert len(sandbox.made("start_service", name)) == 1
        assert len(sandbox.made("http", name, path="/")) == 1
        assert len(sandbox.made("exec", name)) == 1
        assert len(sandbox.made("run_to_completion", name)) == 1
    assert len(sandbox.made("close")) == 1 and not sandbox.cancelled


def test_costly_checks_are_remembered_by_image_id(tmp_path: Path):
    checks = [{"kind": "forbidden-tools", "tools": ["go"], "points": 1},
              {"kind": "cache", "change": "main.go", "cached_step": "go build", "points": 1},
              {"kind": "size", "max_mb": 30, "points": 1}]
    lab = one_exercise(tmp_path, GO, checks)
    engine = FakeEngine({"app": Recorded(probe=Build(breaks_at="COPY main.go"))})
    first = grade(lab, tmp_path, engine).exercises[0]
    again = grade(lab, tmp_path, engine).exercises[0]

    assert statuses(again) == statuses(first)
    assert statuses(first)["ML4-CACHE"][0] is Status.FAILED  # remembered as judged, failed too
    cold, warm = engine.sandboxes
    assert len(cold.made("image_layers")) == 1 and len(cold.made("build", throwaway=True)) == 1
    assert warm.made("image_layers") == [] and warm.made("build", throwaway=True) == []
    assert len(warm.made("image_facts")) == 1  # the cheap facts are read every time

    engine.recorded["app"] = Recorded(image_id="sha256:rebuilt")
    grade(lab, tmp_path, engine)
    changed = engine.sandboxes[2]
    assert len(changed.made("image_layers")) == 1
    assert len(changed.made("build", throwaway=True)) == 1


def test_learners_with_the_same_image_share_what_was_remembered_at_their_own_lines(
        tmp_path: Path):
    # A class hands in the same starter: the same image (the context is the lab's own app
    # folder), the same Dockerfile, in each learner's folder.
    write_files(tmp_path, {"apps/app/main.go": "package main\n"})
    for learner in ("alice", "bob"):
        write_files(tmp_path / learner, {"app/Dockerfile": GO})
    checks = [{"kind": "size", "max_mb": 1, "points": 1},
              {"kind": "cache", "change": "main.go", "cached_step": "go build", "points": 1}]
    lab = write_lab(tmp_path, exercise("app", context="apps/app", checks=checks))
    engine = FakeEngine({"app": Recorded(probe=Build(breaks_at="COPY main.go"))})
    alice = grade(lab, tmp_path / "alice", engine).exercises[0]
    bob = grade(lab, tmp_path / "bob", engine).exercises[0]

    for learner, result in (("alice", alice), ("bob", bob)):
        (size,) = [check for check in result.checks if check.rule_id == "ML4-SIZE"]
        assert size.status is Status.FAILED
        assert size.location.file.endswith(f"{learner}/app/Dockerfile")  # each one's own
    first, second = engine.sandboxes
    # The cache probe (a rebuild) ran for the first learner only: remembered for the second.
    assert first.made("build", throwaway=True) and second.made("build", throwaway=True) == []
    assert size.what == [c for c in alice.checks if c.rule_id == "ML4-SIZE"][0].what


# --- dependencies --------------------------------------------------------------------------


def test_a_dependency_not_selected_is_built_and_started_but_not_scored(tmp_path: Path):
    lab = iotd_and_gallery(tmp_path)
    engine = two_services()
    progress = Recording()
    result = grade(lab, tmp_path, engine, only=["gallery"], progress=progress)

    assert [exercise.id for exercise in result.exercises] == ["gallery"]
    assert statuses(result.exercises[0])["ML4-HTTP"][0] is Status.PASSED
    assert {event[1] for event in progress.events} == {"gallery"}
    sandbox = engine.sandboxes[0]
    assert len(sandbox.made("build", "iotd")) == 1
    assert len(sandbox.made("start_service", "iotd")) == 1
    assert sandbox.made("http", "iotd", path="/image")  # the gallery's check read its caption


def test_a_container_starts_once_its_dependencies_started_not_answered(tmp_path: Path):
    lab = iotd_and_gallery(tmp_path)
    engine = two_services()
    engine.recorded["iotd"] = Recorded(
        service=Answers({"GET /image": (200, IMAGE_JSON)}, up_after_s=0.4)
    )
    result = grade(lab, tmp_path, engine)

    assert statuses(result.exercises[1])["ML4-HTTP"][0] is Status.PASSED
    sandbox = engine.sandboxes[0]
    (iotd_start,) = sandbox.made("start_service", "iotd")
    (gallery_start,) = sandbox.made("start_service", "gallery")
    assert iotd_start.at <= gallery_start.at < iotd_start.at + 0.4  # side by side
    (caption_read,) = sandbox.made("http", "iotd", path="/image")
    assert caption_read.at >= iotd_start.at + 0.4  # once iotd answered


def test_a_container_is_removed_once_it_and_its_callers_are_done(tmp_path: Path):
    lab = iotd_and_gallery(tmp_path)
    engine = two_services()
    grade(lab, tmp_path, engine)

    sandbox = engine.sandboxes[0]
    (iotd_removed,) = sandbox.made("remove_service", "iotd")
    assert len(sandbox.made("remove_service", "gallery")) == 1
    last_call = max(call.at for call in sandbox.calls
                    if call.name == "http" and call.args["path"] == "/image")
    assert iotd_removed.at >= last_call


def test_a_value_from_an_exercise_not_graded_is_a_failed_check_not_a_crash(tmp_path: Path):
    lab = iotd_and_gallery(tmp_path, gallery_run=service("gallery"))  # no depends_on
    result = grade(lab, tmp_path, two_services(), only=["gallery"])

    (http,) = [check for check in result.checks if check.rule_id == "ML4-HTTP"]
    assert http.status is Status.FAILED
    assert http.what == "This check needs the iotd container, which is not running."


# --- order and failures of the run ----------------------------------------------------------


def test_results_come_in_lab_order_when_exercises_finish_out_of_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    second_done = threading.Event()
    finished: list[str] = []

    class Watched(runner.InLabOrder):
        def finished(self, exercise_id: str) -> None:
            super().finished(exercise_id)
            finished.append(exercise_id)
            if exercise_id == "second":
                second_done.set()

    monkeypatch.setattr(runner, "InLabOrder", Watched)
    write_files(tmp_path, {"first/Dockerfile": GO, "second/Dockerfile": NODE})
    checks = [{"kind": "stages", "points": 1}, {"kind": "size", "max_mb": 30, "points": 1}]
    lab = write_lab(tmp_path, exercise("first", checks=checks), exercise("second", checks=checks))
    engine = FakeEngine({"first": Recorded(build=Build(gate=second_done))})  # slow build
    progress = Recording()
    # Two build slots: with one (a one-core machine), the gated build would hold it.
    result = grade(lab, tmp_path, engine, progress=progress, config=RunConfig(build_slots=2))

    assert finished == ["second", "first"]
    assert [exercise.id for exercise in result.exercises] == ["first", "second"]
    rules = ["ML4-STAGES", "ML4-BUILD", "ML4-SIZE"]
    assert progress.events == [
        ("started", "first"), *[("check", "first", rule) for rule in rules],
        ("started", "second"), *[("check", "second", rule) for rule in rules],
    ]
    # Build lines are live for the exercise reported now; the others' are dropped.
    assert "Step 1/7 : FROM diamol/golang:2e AS builder" in progress.lines
    assert not any("diamol/node" in line for line in progress.lines)


def test_an_engine_failure_stops_grading_and_cleans_up(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch):
    def failing(self, ref):
        raise EngineError("The Docker engine failed while reading the image's configuration: "
                          "connection reset")

    monkeypatch.setattr(FakeSandbox, "image_facts", failing)
    lab = one_exercise(tmp_path, GO, [{"kind": "size", "max_mb": 30, "points": 1}])
    engine = FakeEngine()
    with pytest.raises(EngineError, match="connection reset"):
        grade(lab, tmp_path, engine)
    sandbox = engine.sandboxes[0]
    assert sandbox.cancelled and sandbox.closed


def test_an_engine_failure_while_preparing_a_dependency_stops_grading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    start_service = FakeSandbox.start_service

    def failing_for_iotd(self, exercise_id, *args, **kwargs):
        if exercise_id == "iotd":
            raise EngineError("The Docker engine failed while starting a container: "
                              "connection reset")
        return start_service(self, exercise_id, *args, **kwargs)

    monkeypatch.setattr(FakeSandbox, "start_service", failing_for_iotd)
    lab = iotd_and_gallery(tmp_path)
    with pytest.raises(EngineError, match="connection reset"):
        grade(lab, tmp_path, two_services(), only=["gallery"])


def test_a_bug_in_a_step_is_the_checks_result_and_the_step_runs_once(tmp_path: Path,
                                                                       monkeypatch):
    """A step that raises (a grader bug) fails each check that needs it with the grader's
    apology; it is not run again for the next check (a container would start twice)."""
    from grader.pipeline.steps import run as run_step

    calls = []

    def broken(self, job):
        calls.append(job.exercise.id)
        raise RuntimeError("bug in the run step")

    monkeypatch.setattr(run_step.Started, "provide", broken)
    lab = one_exercise(tmp_path, GO, [{"kind": "http", "path": "/", "points": 1}],
                       run=service("web"))
    (result,) = grade(lab, tmp_path, FakeEngine()).exercises
    run, http = statuses(result)["ML4-RUN"], statuses(result)["ML4-HTTP"]
    assert run[0] is Status.FAILED and "problem of the grader" in run[1]
    assert "bug in the run step" in run[1]
    assert http[0] is Status.FAILED and "problem of the grader" in http[1]
    assert calls == ["app"]
