"""Step `reference`: the lab's reference solution of the exercise, built from the same context
through the engine's cache, for its image size (ML4-SIZE compares).

The image is tagged `[tag prefix]dockerlab-reference/<lab>-<exercise>` and labelled like a learner's
image, not as the session's: it is kept, as the learner's images are, so the build cache
stays warm and the next grading rebuilds it from cache in about a second. A throw-away build
would remove its stages' images on `close()`, and every grading would compile the reference
again (a Go or Maven build: tens of seconds). When the learner's Dockerfile is the reference
one, with the same context, the reference is the learner's own image and nothing is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from grader.pipeline.facts import Need, Phase
from grader.pipeline.steps.build import IMAGE, build_request
from grader.pipeline.steps.parse import read_dockerfile

if TYPE_CHECKING:
    from grader.pipeline.facts import DockerfileFacts
    from grader.pipeline.job import ExerciseJob

TAG = "dockerlab-reference/{lab}-{exercise}"


@dataclass(frozen=True)
class ReferenceFacts:
    size_bytes: int | None  # None: no reference image (`missing` says why)
    missing: str = ""
    same_image: bool = False  # the learner's Dockerfile is the reference one

    @property
    def size_mb(self) -> float | None:
        return None if self.size_bytes is None else self.size_bytes / 1_000_000


@dataclass(frozen=True)
class Reference(Need):
    """The reference solution's image size; never unavailable (a reference that cannot be
    built says why, and the check leaves it out)."""

    phase: ClassVar[Phase] = Phase.IMAGE
    costly: ClassVar[bool] = True  # a build, from cache once the reference was built

    def requires(self, job: ExerciseJob) -> tuple[Need, ...]:
        return (IMAGE,)

    def remembered_by(self, job: ExerciseJob) -> str:
        return reference_dockerfile(job).sha256

    def provide(self, job: ExerciseJob) -> ReferenceFacts:
        lab, exercise = job.lab, job.exercise
        reference = reference_dockerfile(job)
        context = lab.context_dir(exercise, lab.solution_dir)
        if not reference.exists:
            return ReferenceFacts(None, f"the lab has no reference solution ({reference.display})")
        mine = job.facts.dockerfile
        if (mine.sha256, mine.ignore_patterns) == (reference.sha256, reference.ignore_patterns) \
                and context.resolve() == job.facts.context_dir.resolve():
            return ReferenceFacts(job.value(IMAGE).size_bytes, same_image=True)
        if not context.is_dir():
            return ReferenceFacts(None, f"the reference solution's context {context} is missing")
        # The run's tag prefix keeps several graders' (and the tests') references apart.
        tag = job.config.tag_prefix + TAG.format(lab=lab.id, exercise=exercise.id)
        request = build_request(job, reference, context_dir=context, tag=tag, no_cache=False)
        with job.build_slot:
            outcome = job.sandbox.build(request)
        if not outcome.ok:
            return ReferenceFacts(None, f"the reference solution did not build: {outcome.error}")
        return ReferenceFacts(job.sandbox.image_facts(outcome.image_id).size_bytes)


def reference_dockerfile(job: ExerciseJob) -> DockerfileFacts:
    return read_dockerfile(job.lab, job.exercise, job.lab.solution_dir)


REFERENCE = Reference()
