"""Required checks (gates) and the lab's verdict policy, on the fake engine: an exercise passes
only when its gates pass (a skipped gate fails) and its score reaches the pass mark; the lab's
`verdict:` decides how exercises make the verdict; every report format names the failed gate;
the CLI's exit code follows the verdict, not the score."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from grader import cli
from grader.errors import SpecError
from grader.reporters import github, gradescope, json_report, junit, terminal
from grader.results import LabResult, Status
from grader.runner import grade
from grader.spec import LabSpec, load_lab
from tests.fake_engine import (
    Build,
    Exits,
    FakeEngine,
    Recorded,
    exercise,
    quick_readiness,
    service,
    GO_TWO_STAGES,
    write_files,
    write_lab,
)

REPO = Path(__file__).resolve().parents[2]

TWO_STAGES = GO_TWO_STAGES
ONE_STAGE = """\
FROM diamol/golang:2e
COPY main.go .
RUN go build -o /server
EXPOSE 80
CMD ["/server"]
"""

STAGES_GATE = {"kind": "stages", "points": 1, "required": True}
METADATA = {"kind": "metadata", "exposed_ports": [80], "points": 20}
EXPOSES_80 = Recorded(image={"exposed_ports": ("80/tcp",)})
STAGES_TITLE = "at least 2 stages build the final image, which copies from an earlier stage"
NOT_MULTI_STAGE = f"app: required check ML4-STAGES ({STAGES_TITLE}) failed"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DOCKERLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    quick_readiness(monkeypatch)


def lab_of(tmp_path: Path, dockerfiles: dict[str, str], *exercises: dict, **keys) -> LabSpec:
    write_files(tmp_path, {f"{name}/Dockerfile": text for name, text in dockerfiles.items()})
    return write_lab(tmp_path, *exercises, **keys)


def by_rule(result: LabResult, rule_id: str, exercise_id: str = "app"):
    (found,) = [check for check in result.checks
                if check.rule_id == rule_id and check.exercise == exercise_id]
    return found


# --- gates ------------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["total-score", "every-exercise"])
def test_a_failed_gate_fails_the_exercise_and_the_lab_whatever_the_score(tmp_path, policy):
    lab = lab_of(tmp_path, {"app": ONE_STAGE},
                 exercise("app", checks=[STAGES_GATE, METADATA]), verdict=policy)
    result = grade(lab, tmp_path, FakeEngine({"app": EXPOSES_80}))

    stages = by_rule(result, "ML4-STAGES")
    assert stages.required and stages.status is Status.FAILED
    assert result.percent > 95  # 30 of 31 points
    (app,) = result.exercises
    assert app.failed_gates == [stages] and not result.exercise_passed(app)
    assert not result.passed
    assert result.verdict_reasons[0].startswith("app: required check ML4-STAGES (")
    assert result.verdict_reasons == [NOT_MULTI_STAGE]


def test_passing_gates_and_the_pass_mark_pass(tmp_path):
    lab = lab_of(tmp_path, {"app": TWO_STAGES},
                 exercise("app", build={"required": True}, checks=[STAGES_GATE, METADATA]),
                 verdict="every-exercise")
    result = grade(lab, tmp_path, FakeEngine({"app": EXPOSES_80}))

    assert {check.rule_id for check in result.checks if check.required} == {"ML4-BUILD",
                                                                             "ML4-STAGES"}
    assert result.failed_gates == [] and result.verdict_reasons == []
    assert result.passed and result.exercise_passed(result.exercises[0])


def test_a_skipped_required_check_is_a_failed_gate(tmp_path):
    """The build failed, so the required ML4-META was never shown to pass."""
    lab = lab_of(tmp_path, {"app": TWO_STAGES},
                 exercise("app", build={"points": 1},
                          checks=[{"kind": "stages", "points": 50}, {**METADATA, "required": True}]))
    failing = Build(fails_at="RUN go build", error="returned a non-zero code: 1")
    result = grade(lab, tmp_path, FakeEngine({"app": Recorded(build=failing)}))

    meta = by_rule(result, "ML4-META")
    assert meta.status is Status.SKIPPED and meta.failed_gate
    assert by_rule(result, "ML4-BUILD").failed_gate is False  # failed, but not required
    assert result.percent > 70  # 50 of 71 points: the score alone would pass at 50 %
    assert not result.passed
    assert result.verdict_reasons == [
        "app: required check ML4-META (image config: EXPOSE 80) was not checked: "
        "the image did not build (ML4-BUILD)"
    ]


def test_build_and_run_take_their_gates_from_their_keys(tmp_path):
    lab = lab_of(tmp_path, {"app": TWO_STAGES},
                 exercise("app", build={"points": 5, "required": True},
                          run=service("web", required=True, points=5),
                          checks=[{"kind": "stages", "points": 90}]))
    assert [(check.rule_id, check.required) for check in lab.exercises[0].all_checks()] == [
        ("ML4-BUILD", True), ("ML4-RUN", True), ("ML4-STAGES", False)]
    result = grade(lab, tmp_path, FakeEngine({"app": Recorded(service=Exits(3, "bye"))}))

    run = by_rule(result, "ML4-RUN")
    assert run.status is Status.FAILED and run.failed_gate
    assert result.percent == 95 and not result.passed
    assert result.verdict_reasons == [
        "app: required check ML4-RUN (the container starts and answers) failed"]


def test_a_required_check_worth_no_points_fails_rather_than_advises(tmp_path):
    lab = lab_of(tmp_path, {"app": ONE_STAGE},
                 exercise("app", checks=[{"kind": "stages", "points": 0, "required": True},
                                         {"kind": "stages", "points": 0, "title": "advisory"}]))
    result = grade(lab, tmp_path, FakeEngine())

    gate, advisory = [check for check in result.checks if check.rule_id == "ML4-STAGES"]
    assert (gate.status, gate.points, gate.max_points) == (Status.FAILED, 0, 0)
    assert advisory.status is Status.ADVICE and not advisory.failed_gate
    assert result.exercises[0].failed_gates == [gate] and not result.passed


# --- the lab's verdict policy ---------------------------------------------------------------------


def two_exercises(tmp_path: Path, policy: str, weak_gate: bool = False) -> LabSpec:
    """`good` scores everything; `weak` loses most of its points on a non-required check
    (or, with `weak_gate`, fails a gate worth 1 point)."""
    weak_checks = [{"kind": "stages", "points": 1 if weak_gate else 20, "required": weak_gate}]
    return lab_of(
        tmp_path, {"good": TWO_STAGES, "weak": ONE_STAGE},
        exercise("good", build={"points": 60}, checks=[{"kind": "stages", "points": 30}]),
        exercise("weak", build={"points": 10}, checks=weak_checks),
        verdict=policy,
    )


def test_total_score_lets_a_strong_exercise_carry_a_weak_one(tmp_path):
    result = grade(two_exercises(tmp_path, "total-score"), tmp_path, FakeEngine())
    good, weak = result.exercises
    assert weak.percent == pytest.approx(100 / 3) and not result.exercise_passed(weak)
    assert result.exercise_passed(good)
    assert result.percent > 80 and result.passed and result.verdict_reasons == []


def test_every_exercise_fails_when_one_exercise_is_below_the_pass_mark(tmp_path):
    result = grade(two_exercises(tmp_path, "every-exercise"), tmp_path, FakeEngine())
    assert result.percent > 80 and not result.passed
    assert result.verdict_reasons == ["weak: 33.3% is below the 50% pass mark"]


def test_total_score_still_applies_the_gates(tmp_path):
    result = grade(two_exercises(tmp_path, "total-score", weak_gate=True), tmp_path, FakeEngine())
    assert result.percent > 98 and not result.passed
    (reason,) = result.verdict_reasons
    assert reason.startswith("weak: required check ML4-STAGES")


def test_total_score_fails_below_the_pass_mark_with_no_gate(tmp_path):
    lab = lab_of(tmp_path, {"app": ONE_STAGE},
                 exercise("app", build={"points": 1}, checks=[{"kind": "stages", "points": 9}]))
    result = grade(lab, tmp_path, FakeEngine())
    assert not result.passed
    assert result.verdict_reasons == ["the total, 10%, is below the 50% pass mark"]


# --- the spec ---------------------------------------------------------------------------------


def test_verdict_defaults_to_total_score_and_gates_to_not_required(tmp_path):
    lab = lab_of(tmp_path, {"app": TWO_STAGES},
                 exercise("app", run=service("web"), checks=[{"kind": "stages"}]))
    assert lab.verdict == "total-score"
    assert [check.required for check in lab.exercises[0].all_checks()] == [False, False, False]


def test_an_unknown_verdict_policy_is_named_with_its_line(tmp_path):
    (tmp_path / "lab.yml").write_text(
        "version: 1\nid: demo\ntitle: Demo\npass_mark: 70\nverdict: best-of-three\n"
        "exercises:\n  - {id: a, title: A, dockerfile: a/Dockerfile, image: a}\n")
    with pytest.raises(SpecError) as raised:
        load_lab(tmp_path / "lab.yml")
    assert "lab.yml:5: verdict: Input should be 'every-exercise' or 'total-score'" in (
        raised.value.message)


def test_lab4_requires_what_the_chapter_is_about():
    lab = load_lab(REPO / "labs" / "lab4" / "lab.yml")
    assert lab.verdict == "every-exercise" and lab.pass_mark == 70
    gates = {exercise.id: sorted(check.rule_id for check in exercise.all_checks()
                                 if check.required)
             for exercise in lab.exercises}
    assert gates == {
        "multi-stage": ["ML4-BUILD", "ML4-OUTPUT", "ML4-STAGES"],
        "image-of-the-day": ["ML4-BUILD", "ML4-RUN", "ML4-STAGES", "ML4-TOOLS"],
        "access-log": ["ML4-BUILD", "ML4-RUN", "ML4-STAGES"],
        "image-gallery": ["ML4-BUILD", "ML4-RUN", "ML4-SIZE", "ML4-STAGES", "ML4-TOOLS"],
        "lab": ["ML4-BUILD", "ML4-RUN", "ML4-SIZE", "ML4-STAGES", "ML4-TOOLS"],
    }
    # Everything else keeps partial credit.
    assert all(not check.required for exercise in lab.exercises for check in exercise.checks
               if check.rule_id in ("ML4-BASE", "ML4-ORDER", "ML4-CACHE", "ML4-HTTP",
                                    "ML4-META", "ML4-LINT", "ML4-INSTR", "ML4-CMD"))


# --- every report format names the failed gate ------------------------------------------------


@pytest.fixture
def gated_result(tmp_path) -> LabResult:
    """`app` is single-stage (a required ML4-STAGES fails); `broken` does not build, so its
    required ML4-META is skipped: two failed gates, in two exercises."""
    lab = lab_of(
        tmp_path, {"app": ONE_STAGE, "broken": TWO_STAGES},
        exercise("app", checks=[STAGES_GATE, METADATA]),
        exercise("broken", build={"points": 1}, checks=[{**METADATA, "required": True}]),
        verdict="every-exercise",
    )
    failing = Build(fails_at="RUN go build", error="returned a non-zero code: 1")
    return grade(lab, tmp_path, FakeEngine({"app": EXPOSES_80,
                                            "broken": Recorded(build=failing)}))


def test_terminal_names_the_failed_gates(gated_result):
    text = terminal.render(gated_result)
    lines = text.splitlines()
    assert "(required)" in text
    assert "  app FAILED: required ML4-STAGES" in lines
    assert "  broken FAILED: required ML4-META, below 50%" in lines
    assert "gate:       a required check: app cannot pass until it does" in text
    assert "(ML4-BUILD) (required: a failed gate)" in text
    verdict_at = lines.index("Verdict: FAILED — every exercise must pass its required checks "
                             "and reach the pass mark (50%).")
    assert lines[verdict_at + 1].startswith("  - app: required check ML4-STAGES")
    assert f"- {NOT_MULTI_STAGE}" in " ".join(text.split())  # wrapped at the report's width
    assert lines[-2].endswith(": FAILED")  # the score line still ends with the verdict


def test_json_carries_the_verdict_and_the_failed_gates(gated_result):
    data = json.loads(json_report.render(gated_result))
    assert data["passed"] is False
    assert data["verdict"]["policy"] == "every-exercise" and not data["verdict"]["passed"]
    assert data["verdict"]["reasons"][0] == NOT_MULTI_STAGE
    app, broken = data["exercises"]
    assert app["passed"] is False and app["percent"] > 95
    assert [gate["rule_id"] for gate in app["failed_gates"]] == ["ML4-STAGES"]
    assert broken["failed_gates"][0]["status"] == "skipped"
    assert {check["rule_id"]: check["required"] for check in app["checks"]} == {
        "ML4-STAGES": True, "ML4-BUILD": False, "ML4-META": False}


def test_junit_makes_every_failed_gate_a_failure(gated_result):
    root = ET.fromstring(junit.render(gated_result))
    skipped_gate = root.find(
        "./testsuite[@name='lab4.broken']/testcase[@name='ML4-META image config: EXPOSE 80']")
    failure = skipped_gate.find("failure")
    assert skipped_gate.find("skipped") is None and failure.get("type") == "ML4-META"
    assert failure.get("message").startswith(
        "required check ML4-META (image config: EXPOSE 80) was not checked")
    assert root.get("failures") == "3"  # ML4-BUILD failed too
    assert [suite.get("skipped") for suite in root.iterfind("testsuite")] == ["0", "0"]
    properties = {prop.get("name"): prop.get("value")
                  for prop in root.iterfind("./testsuite[@name='lab4.app']/properties/property")}
    assert properties["failed_gates"] == "ML4-STAGES"
    assert properties["verdict"] == "FAILED: required ML4-STAGES"
    stages_name = f"ML4-STAGES {STAGES_TITLE}"
    assert properties[f"required:{stages_name}"] == "true"
    stages = root.find(f"./testsuite[@name='lab4.app']/testcase[@name='{stages_name}']/failure")
    assert "gate: " in stages.text and "app cannot pass until it does" in stages.text


def test_github_annotates_the_gate_and_the_verdict(gated_result):
    lines = github.render(gated_result, workspace=str(Path.cwd())).splitlines()
    (stages,) = [line for line in lines if "title=ML4-STAGES" in line]
    assert "title=ML4-STAGES app (required)::" in stages
    (verdict,) = [line for line in lines if line.startswith("::error title=lab4 verdict")]
    assert verdict.startswith("::error title=lab4 verdict%3A FAILED::Verdict: FAILED")
    assert f"%0A  - {NOT_MULTI_STAGE}" in verdict
    summary = github.summary_markdown(gated_result)
    assert "### Verdict" in summary and "- app: required check ML4-STAGES" in summary
    assert "(**required**: a failed gate)" in summary


def test_gradescope_output_leads_with_the_verdict(gated_result):
    data = json.loads(gradescope.render(gated_result))
    assert data["output"].startswith("Verdict: FAILED")
    assert NOT_MULTI_STAGE in data["output"]
    by_number = {test["number"]: test for test in data["tests"]}
    stages = by_number["1.1"]
    assert stages["name"].endswith("(required)") and stages["tags"] == ["ML4-STAGES", "required"]
    assert "gate:" in stages["output"]
    skipped_meta = by_number["2.2"]
    assert skipped_meta["status"] == "failed"
    assert skipped_meta["output"].endswith("gate: a required check: broken cannot pass until it does")


# --- the exit code ----------------------------------------------------------------------------


@pytest.mark.parametrize("dockerfile, code", [pytest.param(TWO_STAGES, 0, id="gate-passes"),
                                              pytest.param(ONE_STAGE, 1, id="gate-fails")])
def test_the_cli_exit_code_follows_the_gates_not_the_score(
    tmp_path, monkeypatch, capsys, dockerfile, code
):
    import grader.infra.baseimages
    import grader.infra.engine

    lab_of(tmp_path, {"app": dockerfile}, exercise("app", checks=[STAGES_GATE, METADATA]))
    monkeypatch.setattr(grader.infra.engine, "ensure_engine",
                        lambda **_kwargs: FakeEngine({"app": EXPOSES_80}))
    monkeypatch.setattr(grader.infra.baseimages, "ensure_base_images", lambda *_a, **_k: None)

    assert cli.main(["grade", str(tmp_path / "lab.yml"), "--path", str(tmp_path),
                     "--quiet"]) == code
    out = capsys.readouterr().out
    assert "pass mark 50%: " + ("PASSED" if code == 0 else "FAILED") in out
    assert (NOT_MULTI_STAGE in " ".join(out.split())) is (code == 1)
