"""Step `inspect`: the built image's layers, with the files each adds or deletes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from grader.engine import ImageLayer
from grader.pipeline.facts import Need, Phase
from grader.pipeline.steps.build import IMAGE

if TYPE_CHECKING:
    from grader.pipeline.job import ExerciseJob


@dataclass(frozen=True)
class Layers(Need):
    """Every layer of the final image, bottom first (read from `docker save`)."""

    phase: ClassVar[Phase] = Phase.IMAGE
    costly: ClassVar[bool] = True  # a `docker save` of the whole image

    def requires(self, job: ExerciseJob) -> tuple[Need, ...]:
        return (IMAGE,)

    def provide(self, job: ExerciseJob) -> list[ImageLayer]:
        return job.sandbox.image_layers(job.value(IMAGE).id)


LAYERS = Layers()
