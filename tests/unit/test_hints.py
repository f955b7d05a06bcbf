"""Hints on their own: which one leads a failing outcome, in which order, from which log."""

import pytest

from grader.errors import SpecError
from grader.pipeline.hints import evidence_of, led_by_hint, matching_hint
from grader.pipeline.steps.build import BUILD, BuildFacts
from grader.pipeline.steps.run import STARTED, Readiness
from grader.engine import BuildOutcome, ContainerState
from grader.results import Outcome
from grader.spec import HintSpec, load_lab

MISSING_GSON = HintSpec(id="gson", log="container", pattern="NoClassDefFoundError",
                        advice="Copy target/lib/.")
ANY_JAVA = HintSpec(id="java", log="container", pattern="Exception", advice="Read the trace.")
NPM_LOCK = HintSpec(id="lock", log="build", pattern="package-lock", advice="Copy the lock file.")
CRASH_LOG = 'Exception in thread "main" java.lang.NoClassDefFoundError: com/google/gson/X'


def exited(logs: str) -> Readiness:
    return Readiness("nat", exited=ContainerState(False, 1, False, logs))


def test_the_first_matching_hint_leads_the_fix():
    evidence = evidence_of([(STARTED, exited(CRASH_LOG))])
    failed = Outcome(False, "The container exited with code 1.", fix="Run it by hand.")
    led = led_by_hint(failed, [MISSING_GSON, ANY_JAVA], evidence)
    assert led.fix == "Copy target/lib/. (hint: gson)\nRun it by hand."
    assert led.what == failed.what
    assert matching_hint([ANY_JAVA, MISSING_GSON], evidence) is ANY_JAVA  # order decides


def test_a_hint_searches_only_its_own_log():
    build = BuildFacts("t", 60, BuildOutcome(False, None, [], ["npm ERR! no package-lock.json"]))
    evidence = evidence_of([(BUILD, build)])
    assert matching_hint([MISSING_GSON], evidence) is None
    assert matching_hint([NPM_LOCK], evidence) is NPM_LOCK


def test_passing_outcomes_and_unmatched_logs_are_left_alone():
    evidence = evidence_of([(STARTED, exited("listening on :80"))])
    passed = Outcome(True, "It answered.")
    failed = Outcome(False, "It stopped.", fix="Run it by hand.")
    assert led_by_hint(passed, [MISSING_GSON], evidence_of([(STARTED, exited(CRASH_LOG))])) is passed
    assert led_by_hint(failed, [MISSING_GSON], evidence) is failed


def test_a_refused_start_is_container_evidence():
    refused = Readiness("nat", refused="exec /web/server: exec format error: unknown")
    hint = HintSpec(id="arch", log="container", pattern="exec format error", advice="GOARCH.")
    assert matching_hint([hint], evidence_of([(STARTED, refused)])) is hint


def test_an_exercises_own_hints_come_before_the_labs(tmp_path):
    (tmp_path / "lab.yml").write_text(
        "version: 1\nid: lab9\ntitle: T\npass_mark: 50\n"
        "hints: [{id: lab-wide, log: build, pattern: x, advice: A}]\n"
        "exercises:\n"
        "  - id: one\n    title: One\n    dockerfile: one/Dockerfile\n    image: one\n"
        "    hints: [{id: own, log: build, pattern: x, advice: B}]\n"
    )
    lab = load_lab(tmp_path / "lab.yml")
    assert [hint.id for hint in lab.hints_for(lab.exercise("one"))] == ["own", "lab-wide"]


def test_a_pattern_that_is_not_a_regular_expression_is_a_spec_error(tmp_path):
    (tmp_path / "lab.yml").write_text(
        "version: 1\nid: lab9\ntitle: T\npass_mark: 50\n"
        "hints: [{id: broken, log: build, pattern: '(unclosed', advice: A}]\n"
        "exercises:\n  - {id: one, title: One, dockerfile: one/Dockerfile, image: one}\n"
    )
    with pytest.raises(SpecError) as raised:
        load_lab(tmp_path / "lab.yml")
    assert "lab.yml:5" in raised.value.message and "not a regular expression" in raised.value.message


def test_lab4_hints_are_valid_and_named_once():
    from pathlib import Path

    lab = load_lab(Path(__file__).resolve().parents[2] / "labs" / "lab4" / "lab.yml")
    ids = [hint.id for hint in lab.hints]
    assert len(ids) == len(set(ids)) >= 8
