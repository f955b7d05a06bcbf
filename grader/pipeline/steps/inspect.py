"""Step `inspect`: the built image's layers, with the files each adds or deletes.

The scan is bounded (docs/reference/bounds.md): an image larger than LAYER_SCAN_MAX_BYTES is
not read at all, and a scan stops at its bounds on entries and name length. Either way each
check that needed the layers is not checked, with the reason and the figures: a learner's
result (a multi-stage build's final image is far below the bounds), not a grader error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from grader.engine import LAYER_SCAN_MAX_BYTES, ImageLayer, LayerScanRefused
from grader.pipeline.facts import Need, Phase, Unavailable
from grader.pipeline.steps.build import IMAGE

if TYPE_CHECKING:
    from grader.pipeline.job import ExerciseJob

TOO_LARGE_HELP = ("A multi-stage build's final image holds only what the app runs: build in "
                  "an earlier stage and `COPY --from` it just the result.")


@dataclass(frozen=True)
class Layers(Need):
    """Every layer of the final image, bottom first (read from `docker save`)."""

    phase: ClassVar[Phase] = Phase.IMAGE
    costly: ClassVar[bool] = True  # a `docker save` of the whole image

    def requires(self, job: ExerciseJob) -> tuple[Need, ...]:
        return (IMAGE,)

    def provide(self, job: ExerciseJob) -> list[ImageLayer]:
        image = job.value(IMAGE)
        if image.size_bytes > LAYER_SCAN_MAX_BYTES:
            raise Unavailable(
                f"not checked: the final image is {gigabytes(image.size_bytes)}, larger than "
                f"the {gigabytes(LAYER_SCAN_MAX_BYTES)} whose layers the grader reads. "
                + TOO_LARGE_HELP)
        try:
            return job.sandbox.image_layers(image.id)
        except LayerScanRefused as refused:
            raise Unavailable(f"not checked: {refused.reason}. {TOO_LARGE_HELP}") from refused


def gigabytes(size_bytes: int) -> str:
    """As `docker images` shows it (1 GB = 10^9 bytes): `5.37 GB`, `2 GB`."""
    return f"{size_bytes / 1e9:.2f}".rstrip("0").rstrip(".") + " GB"


LAYERS = Layers()
