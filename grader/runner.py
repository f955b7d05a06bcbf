"""Grade one submission of one lab: every exercise a job, jobs side by side, one result.

Each exercise's job fulfils the needs of its checks through the pipeline's steps (parse,
build, inspect, probe, run) and judges them in phase order; a check whose need is
unavailable is SKIPPED with the reason. Exercises proceed concurrently: builds and
probes hold one of `RunConfig.build_slots` (one per core), containers start as soon as
the ones they depend on have started. Progress and results are still reported in the
lab's order. A container is removed once nothing needs it (its checks and its callers'
are judged); the sandbox removes whatever is left at the end. On Ctrl-C the sandbox is
cancelled first, so nothing new starts while it cleans up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Protocol

from grader.engine import Engine, Sandbox
from grader.errors import SubmissionError
from grader.pipeline.config import RunConfig
from grader.pipeline.job import ExerciseJob
from grader.results import CheckResult, ExerciseResult, LabResult
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
    engine: Engine,
    only: list[str] | None = None,
    progress: Progress | None = None,
    config: RunConfig | None = None,
    *,
    build_slots: threading.BoundedSemaphore | None = None,
    on_session: Callable[[Sandbox], None] = lambda _sandbox: None,
) -> LabResult:
    """Grade `submission`. `build_slots` are shared with other gradings run side by side
    (a batch), else the run's own (`RunConfig.build_slots`); `on_session` is told the
    sandbox as soon as it exists, so a batch can cancel gradings on Ctrl-C."""
    if not submission.is_dir():
        raise SubmissionError(
            f"There is no submission folder at {submission}.",
            hint="Pass the folder holding the exercise folders with --path.",
        )
    config = config or RunConfig()
    selected = [lab.exercise(name) for name in only] if only else list(lab.exercises)
    started = time.monotonic()
    result = LabResult(lab.id, lab.title, str(submission), lab.pass_mark,
                       verdict_policy=lab.verdict)
    in_order = InLabOrder(progress or SilentProgress(), [exercise.id for exercise in selected])
    with engine.session(config.owner) as sandbox:
        on_session(sandbox)
        slots = build_slots or threading.BoundedSemaphore(config.build_slots)
        jobs: dict[str, ExerciseJob] = {}
        for exercise in with_dependencies(lab, selected):
            jobs[exercise.id] = ExerciseJob(
                lab, exercise, submission, sandbox, config, slots, jobs,
                progress_line=in_order.line_sink(exercise.id),
            )
        result.exercises = run_jobs(jobs, selected, in_order, sandbox)
    result.duration_s = time.monotonic() - started
    return result


def run_jobs(
    jobs: dict[str, ExerciseJob],
    selected: list[ExerciseSpec],
    in_order: InLabOrder,
    sandbox: Sandbox,
) -> list[ExerciseResult]:
    scored = {exercise.id for exercise in selected}
    retiring = Retirement(jobs, sandbox)

    def work(job: ExerciseJob) -> ExerciseResult | None:
        try:
            if job.exercise.id not in scored:
                job.prepare()
                return None
            in_order.exercise_started(job.exercise.id, job.exercise.title)
            try:
                return job.grade(on_result=in_order.check_sink(job.exercise.id))
            finally:
                in_order.finished(job.exercise.id)
        finally:
            retiring.done(job.exercise.id)

    # One thread a job: most of a job's time is waiting (for the engine, for a container
    # to answer); the build slots bound what costs a core.
    pool = ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="exercise")
    futures: dict[str, Future] = {name: pool.submit(work, job) for name, job in jobs.items()}
    try:
        # An engine failure in one job ends the wait at once: the others are cancelled below.
        done, _ = wait(futures.values(), return_when=FIRST_EXCEPTION)
        for future in done:
            future.result()  # an engine failure in any job, a prepared one too, stops grading
        return [futures[exercise.id].result() for exercise in selected]
    except BaseException:
        # Ctrl-C, or one job's engine failure: stop the others before the sandbox cleans up.
        sandbox.cancel()
        sandbox.close()  # removes the containers the other jobs wait on
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


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


class Retirement:
    """Removes an exercise's container as soon as nothing needs it any more: its own checks
    are judged and so are those of every exercise that calls it. What is left when the run
    ends, the sandbox removes."""

    def __init__(self, jobs: dict[str, ExerciseJob], sandbox: Sandbox):
        self.jobs = jobs
        self.sandbox = sandbox
        self.finished: set[str] = set()
        self.lock = threading.Lock()
        self.callers = {
            name: {other for other, job in jobs.items() if job.exercise.run
                   and name in job.exercise.run.depends_on}
            for name in jobs
        }

    def done(self, exercise_id: str) -> None:
        with self.lock:
            self.finished.add(exercise_id)
            depends_on = self.jobs[exercise_id].exercise.run
            candidates = [exercise_id, *(depends_on.depends_on if depends_on else [])]
            unneeded = [
                name for name in candidates
                if name in self.finished and self.callers[name] <= self.finished
            ]
        for name in unneeded:
            service = self.jobs[name].service
            if service is not None:
                self.sandbox.remove_service(service)


class InLabOrder:
    """Passes on the progress of exercises graded side by side as if they ran one after
    another: the first unfinished exercise in the lab's order speaks live, the others'
    events wait their turn (their build lines, transient, are dropped)."""

    def __init__(self, progress: Progress, order: list[str]):
        self.progress = progress
        self.order = order
        self.position = 0
        self.waiting: dict[str, list[Callable[[], None]]] = {name: [] for name in order}
        self.done: set[str] = set()
        self.lock = threading.Lock()

    def _speaking(self) -> str | None:
        return self.order[self.position] if self.position < len(self.order) else None

    def _emit(self, exercise_id: str, event: Callable[[], None]) -> None:
        with self.lock:
            if exercise_id == self._speaking():
                event()
            else:
                self.waiting[exercise_id].append(event)

    def exercise_started(self, exercise_id: str, title: str) -> None:
        self._emit(exercise_id, lambda: self.progress.exercise_started(exercise_id, title))

    def check_sink(self, exercise_id: str) -> Callable[[CheckResult], None]:
        return lambda result: self._emit(exercise_id, lambda: self.progress.check_done(result))

    def line_sink(self, exercise_id: str) -> Callable[[str], None]:
        def line(text: str) -> None:
            with self.lock:
                if exercise_id == self._speaking():
                    self.progress.line(text)

        return line

    def finished(self, exercise_id: str) -> None:
        with self.lock:
            self.done.add(exercise_id)
            while self._speaking() in self.done:
                self.position += 1
                for event in self.waiting.get(self._speaking(), []):
                    event()
