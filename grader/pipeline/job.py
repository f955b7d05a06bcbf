"""One exercise of one submission: its needs fulfilled once, its checks judged in order.

Jobs of one grading run side by side (one thread each); they meet only through the
events `started` and `settled`, which the run step of an exercise that depends on another
one waits for.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any

from grader.checks.base import Check
from grader.errors import EngineError
from grader.memo import remembered
from grader.pipeline.config import RunConfig
from grader.pipeline.deadline import Deadline
from grader.pipeline.facts import Facts, Need, Unavailable
from grader.pipeline.hints import evidence_of, led_by_hint
from grader.pipeline.steps.build import IMAGE
from grader.pipeline.steps.parse import read_dockerfile
from grader.pipeline.steps.run import STARTED
from grader.engine import Cancelled, Sandbox, Service
from grader.results import CheckResult, ExerciseResult, Location, Outcome, Status
from grader.spec import ExerciseSpec, LabSpec


class ExerciseJob:
    def __init__(
        self,
        lab: LabSpec,
        exercise: ExerciseSpec,
        submission: Path,
        sandbox: Sandbox,
        config: RunConfig,
        build_slot: AbstractContextManager,
        jobs: dict[str, ExerciseJob],
        progress_line: Callable[[str], None] = lambda _line: None,
    ):
        self.lab = lab
        self.exercise = exercise
        self.sandbox = sandbox
        self.config = config
        self.build_slot = build_slot  # held while building: builds are CPU-bound
        self.jobs = jobs
        self.progress_line = progress_line
        self.tag = config.tag_prefix + config.learner_prefix + exercise.image
        self.deadline = Deadline(exercise.deadline_s)  # started by grade() or prepare()
        self._values: dict[Need, Any] = {}
        self._unavailable: dict[Need, str] = {}
        self._underway: dict[Need, threading.Event] = {}
        self._failed: dict[Need, Exception] = {}  # needs whose step raised (grader bugs)
        self._lock = threading.Lock()
        self.facts = Facts(lab, exercise, submission, read_dockerfile(lab, exercise, submission),
                           self._values)
        self.started = threading.Event()  # its container was started, or never will be
        self.settled = threading.Event()  # its container answered, or never will

    # -- needs ------------------------------------------------------------------------------

    def fulfil(self, need: Need) -> str:
        """Fulfil `need` once; the reason it is unavailable, or "" when it is there. Safe
        from several threads: one fulfils, the others wait for it."""
        with self._lock:
            if need in self._values:
                return ""
            if need in self._unavailable:
                return self._unavailable[need]
            if need in self._failed:
                # Its step raised (a grader bug): every check that needs it reports that,
                # rather than the step running again (a container would be started twice).
                raise self._failed[need]
            underway = self._underway.get(need)
            if underway is None:
                self._underway[need] = threading.Event()
        if underway is not None:
            underway.wait()
            return self.fulfil(need)  # there now, unavailable, or failed
        try:
            reason = self._first_missing(need.requires(self))
            if not reason and self.deadline.passed:
                reason = self.deadline.reason
            if not reason:
                try:
                    value = need.provide(self)
                    with self._lock:
                        self._values[need] = value
                except Unavailable as missing:
                    reason = missing.reason
                except (EngineError, Cancelled):
                    raise  # grading stops: nothing to remember
                except Exception as bug:
                    with self._lock:
                        self._failed[need] = bug
                    raise
            if reason:
                with self._lock:
                    self._unavailable[need] = reason
            return reason
        finally:
            with self._lock:
                self._underway.pop(need).set()

    def _first_missing(self, needs) -> str:
        for need in needs:
            reason = self.fulfil(need)
            if reason:
                return reason
        return ""

    def value(self, need: Need) -> Any:
        """A need a step relies on, fulfilled first if it is not yet."""
        reason = self.fulfil(need)
        if reason:
            raise Unavailable(reason)
        return self._values[need]

    @property
    def service(self) -> Service | None:
        """The exercise's container, when it was started."""
        readiness = self.known(STARTED)
        return readiness.service if readiness is not None else None

    def known(self, need: Need) -> Any:
        """A need's value if another step already fulfilled it, else None."""
        return self._values.get(need)

    def other(self, exercise_id: str) -> ExerciseJob | None:
        """Another exercise's job, when this grading runs that exercise."""
        return self.jobs.get(exercise_id)

    # -- grading ----------------------------------------------------------------------------

    def grade(self, on_result: Callable[[CheckResult], None]) -> ExerciseResult:
        result = ExerciseResult(self.exercise.id, self.exercise.title, self.tag)
        self.deadline.start()
        # The container is started as soon as its image is built, while the other checks
        # are judged: it is what exercises that depend on this one wait for.
        head_start = threading.Thread(target=self._start_early, daemon=True,
                                      name=f"start-{self.exercise.id}")
        if self.exercise.run is not None:
            head_start.start()
        try:
            for check in ordered(self.checks()):
                check_result = self.judge(check)
                result.checks.append(check_result)
                on_result(check_result)
        finally:
            if head_start.is_alive():
                head_start.join()
            self.release()
        return result

    def checks(self) -> list[Check]:
        """The exercise's checks this run judges: a learner's run leaves the hidden ones out."""
        return [check for check in self.exercise.all_checks()
                if self.config.instructor or not check.hidden]

    def _start_early(self) -> None:
        try:
            self.fulfil(STARTED)
        except Exception:  # noqa: BLE001 - the check that needs it fulfils it again and reports
            pass

    def prepare(self) -> None:
        """Build and start an exercise another one calls, without scoring it."""
        self.deadline.start()
        try:
            if self.exercise.run is not None:
                self.fulfil(STARTED)
        finally:
            self.release()

    def release(self) -> None:
        """Whatever happened, an exercise waiting for this one waits no more."""
        self.started.set()
        self.settled.set()

    def judge(self, check: Check) -> CheckResult:
        started = time.monotonic()
        needs = check.needs()
        try:
            reason = self._first_missing(need for need in needs if not need.costly)
        except (EngineError, Cancelled):
            raise
        except Exception as bug:  # a step's bug: this check's result, not the whole grading's
            return to_result(check, self.exercise.id,
                             (grader_bug(bug), time.monotonic() - started), "")
        if reason:
            return to_result(check, self.exercise.id, None, reason)
        if any(need.costly for need in needs):
            # Costly needs are determined by the image and the Dockerfile: remembered by them.
            reason = self.fulfil(IMAGE)
            if reason:
                return to_result(check, self.exercise.id, None, reason)
            # Not the learner's own paths: learners with the same image and Dockerfile (a
            # class's unchanged starters) share what was remembered, the Dockerfile's path put
            # back into each one's location. A build context inside the submission is named
            # in some messages, so it stays in the key.
            key = {"image": self.facts[IMAGE].id, "rule": check.rule_id,
                   "check": check.model_dump(mode="json"), "file": self.exercise.dockerfile,
                   "context": str(self.facts.context_dir.resolve()),
                   "text": self.facts.dockerfile.sha256,
                   "hints": [hint.model_dump() for hint in self.lab.hints_for(self.exercise)],
                   "needs": [need.remembered_by(self) for need in needs if need.costly]}
            display = self.facts.dockerfile.display
            try:
                # A grader bug raises through `remembered`, so it is not remembered.
                outcome = relocated(guarded(lambda: remembered(key, lambda: relocated(
                    self.judge_costly(check, needs), display, LEARNERS_DOCKERFILE))),
                    LEARNERS_DOCKERFILE, display)
            except Unavailable as missing:
                return to_result(check, self.exercise.id, None, missing.reason)
        else:
            outcome = self.hinted(needs, guarded(lambda: check.judge(self.facts)))
        return to_result(check, self.exercise.id, (outcome, time.monotonic() - started), "")

    def hinted(self, needs: tuple[Need, ...], outcome: Outcome) -> Outcome:
        """A failing outcome led by the first of the lab's hints its evidence matches."""
        if outcome.passed:
            return outcome
        with self._lock:
            fulfilled = [(need, self._values[need]) for need in needs if need in self._values]
        return led_by_hint(outcome, self.lab.hints_for(self.exercise), evidence_of(fulfilled))

    def judge_costly(self, check: Check, needs: tuple[Need, ...]) -> Outcome:
        reason = self._first_missing(needs)
        if reason:
            raise Unavailable(reason)
        return self.hinted(needs, check.judge(self.facts))


LEARNERS_DOCKERFILE = "<the learner's Dockerfile>"  # in remembered outcomes' locations


def relocated(outcome: Outcome, old: str, new: str) -> Outcome:
    """`outcome` with a location in file `old` moved to file `new` (the same line)."""
    location = outcome.location
    if location is None or location.file != old:
        return outcome
    return replace(outcome, location=Location(new, location.line))


def ordered(checks: list[Check]) -> list[Check]:
    """By phase; within one, as the lab lists them (the implicit ML4-BUILD and ML4-RUN first)."""
    return sorted(checks, key=lambda check: check.phase)


def guarded(judge: Callable[[], Outcome]) -> Outcome:
    try:
        return judge()
    except (EngineError, Cancelled, Unavailable):
        raise  # the engine failed, Ctrl-C, or a need was missing: not a verdict of this check
    except Exception as exc:  # a grader bug must not hide the learner's other results
        return grader_bug(exc)


def grader_bug(exc: Exception) -> Outcome:
    return Outcome(
        False,
        f"The grader failed inside this check ({type(exc).__name__}: {exc}). "
        "This is a problem of the grader, not of your work.",
        fix="Report it to your instructor with the details below.",
        details="".join(traceback.format_exception(exc, limit=4)),
    )


def to_result(
    check: Check, exercise: str, timed_outcome: tuple[Outcome, float] | None, skip_reason: str
) -> CheckResult:
    common = dict(
        rule_id=check.rule_id,
        title=check.display_title,
        exercise=exercise,
        max_points=check.points,
        required=check.required,
        hidden=check.hidden,
    )
    if timed_outcome is None:
        return CheckResult(status=Status.SKIPPED, points=0, what=skip_reason, **common)
    outcome, duration = timed_outcome
    if outcome.passed:
        status = Status.PASSED
    elif check.points == 0 and not check.required:
        status = Status.ADVICE  # a zero-point check advises, it never fails anyone
    else:
        status = Status.FAILED
    return CheckResult(
        status=status,
        points=round(check.points * outcome.earned_fraction, 2),
        what=outcome.what,
        fix=outcome.fix,
        location=outcome.location,
        details=outcome.details,
        duration_s=duration,
        measured=outcome.measured,
        **common,
    )

