"""Step `build`: the learner's image, built through the engine's cache, and its facts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from grader.dockerfile import declare_platform_args
from grader.engine import BuildOutcome, BuildRequest, ImageFacts
from grader.engine.build import BuildLimits
from grader.pipeline.facts import DockerfileFacts, Need, Phase, Unavailable

if TYPE_CHECKING:
    from grader.pipeline.job import ExerciseJob


@dataclass(frozen=True)
class BuildFacts:
    tag: str
    timeout_s: float
    outcome: BuildOutcome | None  # None: nothing to build (no Dockerfile or no context)


def build_request(job: ExerciseJob, dockerfile: DockerfileFacts, **overrides) -> BuildRequest:
    """The learner's build as the classic builder takes it. BuildKit defines the platform
    args (`FROM --platform=$BUILDPLATFORM`) in every build, the classic builder none: when
    the Dockerfile names one, they are declared in one added line and passed as build args."""
    spec = job.exercise.build
    text, build_args = dockerfile.text or "", dict(spec.build_args)
    with_platform = declare_platform_args(text, job.sandbox.engine.platform_args)
    if with_platform is not None:
        text, build_args = with_platform, {**job.sandbox.engine.platform_args, **build_args}
    request = {
        "context_dir": job.facts.context_dir,
        "dockerfile_text": text,
        "tag": job.tag,
        "exclude": dockerfile.ignore_patterns,
        "build_args": build_args,
        "target": spec.target,
        "labels": {"dockerlab.lab": job.lab.id, "dockerlab.exercise": job.exercise.id},
        "timeout_s": job.deadline.clamp(spec.timeout_s),
        "no_cache": job.config.no_cache,
        "first_line_added": with_platform is not None,
        "limits": BuildLimits(spec.memory_mb, spec.pids, spec.context_mb, spec.context_files),
    }
    return BuildRequest(**{**request, **overrides})


@dataclass(frozen=True)
class Build(Need):
    """The build's outcome, steps and log (ML4-BUILD judges it)."""

    phase: ClassVar[Phase] = Phase.BUILD

    def provide(self, job: ExerciseJob) -> BuildFacts:
        dockerfile = job.facts.dockerfile
        timeout_s = job.exercise.build.timeout_s
        if not dockerfile.exists or not job.facts.context_dir.is_dir():
            return BuildFacts(job.tag, timeout_s, None)
        with job.build_slot:
            outcome = job.sandbox.build(build_request(job, dockerfile), on_line=job.progress_line)
        if outcome.timed_out and job.deadline.passed:
            raise Unavailable(job.deadline.reason)  # the deadline stopped it, not its time-out
        return BuildFacts(job.tag, timeout_s, outcome)

    def evidence(self, value: BuildFacts) -> dict[str, str]:
        return {"build": "\n".join(value.outcome.log)} if value.outcome else {}


BUILD = Build()


@dataclass(frozen=True)
class Image(Need):
    """The built image's configuration and size."""

    phase: ClassVar[Phase] = Phase.IMAGE

    def requires(self, job: ExerciseJob) -> tuple[Need, ...]:
        return (BUILD,)

    def provide(self, job: ExerciseJob) -> ImageFacts:
        outcome = job.value(BUILD).outcome
        if outcome is None or not outcome.ok:
            raise Unavailable("not checked: the image did not build (ML4-BUILD)")
        return job.sandbox.image_facts(outcome.image_id)


IMAGE = Image()
