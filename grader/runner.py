"""Grade one submission of one lab: exercises in order, checks by phase, one result model.

Phases per exercise: static checks on the Dockerfile, the build, checks on the image,
the cache probe, then the container on the lab network and the checks that call it.
A check that cannot run because an earlier phase failed is SKIPPED with the reason.
Containers stay up until the whole lab is graded, so later exercises can call earlier
ones (the gallery calls image-of-the-day and access-log), then the sandbox removes them.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Protocol

import docker

from grader.checks.base import Check, Phase
from grader.checks.build import BuildCheck
from grader.checks.run import RunCheck
from grader.context import ExerciseContext
from grader.dockerfile import Dockerfile, DockerfileSyntaxError
from grader.errors import SubmissionError
from grader.results import CheckResult, ExerciseResult, LabResult, Outcome, Status
from grader.sandbox import Sandbox
from grader.spec import ExerciseSpec, LabSpec


class Progress(Protocol):
    def exercise_started(self, exercise_id: str, title: str) -> None: ...
    def line(self, text: str) -> None: ...
    def check_done(self, result: CheckResult) -> None: ...


class SilentProgress:
    def exercise_started(self, exercise_id: str, title: str) -> None:
        pass

    def line(self, text: str) -> None:
        pass

    def check_done(self, result: CheckResult) -> None:
        pass


def grade(
    lab: LabSpec,
    submission: Path,
    client: docker.DockerClient,
    only: list[str] | None = None,
    progress: Progress | None = None,
    tag_prefix: str = "",
    owner: str = "grader",
    no_cache: bool = False,
) -> LabResult:
    if not submission.is_dir():
        raise SubmissionError(
            f"There is no submission folder at {submission}.",
            hint="Pass the folder holding the exercise folders with --path.",
        )
    progress = progress or SilentProgress()
    selected = [lab.exercise(name) for name in only] if only else list(lab.exercises)
    started = time.monotonic()
    result = LabResult(lab.id, lab.title, str(submission), lab.pass_mark)
    with Sandbox(client, owner=owner) as sandbox:
        grader = ExerciseGrader(lab, submission, sandbox, progress, tag_prefix, no_cache)
        for exercise in with_dependencies(lab, selected):
            if exercise in selected:
                result.exercises.append(grader.grade(exercise))
            else:
                grader.prepare(exercise)
    result.duration_s = time.monotonic() - started
    return result


def with_dependencies(lab: LabSpec, selected: list[ExerciseSpec]) -> list[ExerciseSpec]:
    """The selected exercises plus the ones their containers call, in the lab's order."""
    needed = {exercise.id for exercise in selected}
    pending = list(selected)
    while pending:
        exercise = pending.pop()
        for name in exercise.run.depends_on if exercise.run else []:
            if name not in needed:
                needed.add(name)
                pending.append(lab.exercise(name))
    return [exercise for exercise in lab.exercises if exercise.id in needed]


class ExerciseGrader:
    def __init__(self, lab, submission, sandbox, progress, tag_prefix, no_cache=False):
        self.lab = lab
        self.submission = submission
        self.sandbox = sandbox
        self.progress = progress
        self.tag_prefix = tag_prefix
        self.no_cache = no_cache
        self.services = {}

    def context(self, exercise: ExerciseSpec) -> tuple[ExerciseContext, str]:
        context = ExerciseContext(
            self.lab, exercise, self.submission, self.sandbox, services=self.services
        )
        unparsable = ""
        if context.dockerfile_path.is_file():
            try:
                context.dockerfile = Dockerfile.parse(
                    context.dockerfile_path, exercise.build.build_args
                )
            except DockerfileSyntaxError as error:
                unparsable = f"not checked: the Dockerfile does not parse ({error}); see ML4-BUILD"
        return context, unparsable

    def grade(self, exercise: ExerciseSpec) -> ExerciseResult:
        self.progress.exercise_started(exercise.id, exercise.title)
        context, unparsable = self.context(exercise)
        result = ExerciseResult(exercise.id, exercise.title, self.tag_prefix + exercise.image)
        checks = sorted(exercise.checks, key=lambda check: check.phase)

        def record(check: Check, run, skip_reason: str = "") -> CheckResult:
            outcome = None if skip_reason else timed(run)
            check_result = to_result(check, exercise.id, outcome, skip_reason)
            result.checks.append(check_result)
            self.progress.check_done(check_result)
            return check_result

        for check in [c for c in checks if c.phase is Phase.STATIC]:
            record(check, lambda c=check: c.run(context), unparsable)
        build = self.build_check(exercise)
        built = record(build, lambda: build.run(context, on_line=self.progress.line))
        skip = "" if built.status is Status.PASSED else "not checked: the image did not build (ML4-BUILD)"
        for check in [c for c in checks if c.phase in (Phase.IMAGE, Phase.CACHE)]:
            record(check, lambda c=check: c.run(context), skip)
        if exercise.run is not None:
            run_check = RunCheck(points=exercise.run.points)
            ran = record(run_check, lambda: run_check.run(context), skip)
            if not skip and ran.status is not Status.PASSED:
                skip = "not checked: the container did not start and answer (ML4-RUN)"
        for check in [c for c in checks if c.phase is Phase.RUN]:
            needs_service = getattr(check, "needs_service", False)
            reason = skip if (needs_service or not built.status is Status.PASSED) else ""
            if needs_service and exercise.run is None:
                reason = "not checked: the lab gives this exercise no `run:` section"
            record(check, lambda c=check: c.run(context), reason)
        return result

    def prepare(self, exercise: ExerciseSpec) -> None:
        """Build and start an exercise another one calls, without scoring it."""
        context, _ = self.context(exercise)
        if self.build_check(exercise).run(context, on_line=self.progress.line).passed and exercise.run:
            RunCheck(points=0).run(context)

    def build_check(self, exercise: ExerciseSpec) -> BuildCheck:
        return BuildCheck(
            points=exercise.build.points,
            timeout_s=exercise.build.timeout_s,
            tag_prefix=self.tag_prefix,
            no_cache=self.no_cache,
        )


def timed(run) -> tuple[Outcome, float]:
    started = time.monotonic()
    try:
        outcome = run()
    except docker.errors.DockerException:
        raise  # the engine itself failed: grading cannot go on
    except Exception as exc:  # a grader bug must not hide the learner's other results
        outcome = Outcome(
            False,
            f"The grader failed inside this check ({type(exc).__name__}: {exc}). "
            "This is a problem of the grader, not of your work.",
            fix="Report it to your instructor with the details below.",
            details=traceback.format_exc(limit=4),
        )
    return outcome, time.monotonic() - started


def to_result(
    check: Check, exercise: str, timed_outcome: tuple[Outcome, float] | None, skip_reason: str
) -> CheckResult:
    common = dict(
        rule_id=check.rule_id,
        title=check.display_title,
        exercise=exercise,
        max_points=check.points,
    )
    if timed_outcome is None:
        return CheckResult(status=Status.SKIPPED, points=0, what=skip_reason, **common)
    outcome, duration = timed_outcome
    if outcome.passed:
        status = Status.PASSED
    elif check.points == 0:
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
        **common,
    )
