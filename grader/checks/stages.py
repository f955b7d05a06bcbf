"""ML4-STAGES: the image is built in stages, and the final stage copies only the results of
the earlier ones (chapter 4.1: build in one stage, ship from another)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from grader.checks.static import DockerfileCheck, stage_title
from grader.dockerfile import Dockerfile, Instruction, Stage
from grader.results import Outcome

if TYPE_CHECKING:
    from grader.pipeline.facts import Facts


class StagesCheck(DockerfileCheck):
    kind: Literal["stages"] = "stages"
    min_stages: int = Field(
        2, ge=1, description="Stages that must go into the final image, the final one included."
    )
    require_copy_from: bool = Field(
        True, description="The final stage must COPY --from an earlier stage."
    )

    rule_id: ClassVar[str] = "ML4-STAGES"

    def describe(self) -> str:
        title = f"at least {self.min_stages} stages build the final image"
        return title + ", which copies from an earlier stage" if self.require_copy_from else title

    def inspect(self, facts: Facts, dockerfile: Dockerfile, final: Stage) -> Outcome:
        feeding = sorted(dockerfile.stages_feeding(final), key=lambda stage: stage.index)
        unused = [
            stage
            for stage in dockerfile.stages
            if stage not in feeding and stage.index < final.index
        ]
        copies = stage_copies(dockerfile, final)
        where = facts.at_line(final.from_line)

        if len(dockerfile.stages) == 1 and (self.require_copy_from or self.min_stages > 1):
            return Outcome(
                False,
                f"The Dockerfile has a single stage (FROM {final.base}, line {final.from_line}): "
                "the SDK, the build tools and the sources all ship in the image.",
                fix=split_in_two(final),
                location=where,
            )
        if self.require_copy_from and not copies:
            return Outcome(
                False,
                f"The final {stage_title(final)} never copies from an earlier stage, so no "
                "build output reaches the image." + image_copies_note(final) + unused_note(unused),
                fix=last_stage_note(dockerfile, unused, final, facts.exercise.build.target)
                or (
                    "In the final stage, copy what the build produced, e.g. "
                    f"`COPY --from={builder_hint(unused)} <path built there> <path in the image>`."
                ),
                location=where,
            )
        if len(feeding) < self.min_stages:
            return Outcome(
                False,
                f"Only {len(feeding)} stage{'s' if len(feeding) != 1 else ''} "
                f"({labels(feeding)}) go into the final image; the exercise asks for at least "
                f"{self.min_stages}." + unused_note(unused),
                fix=(
                    "Give each job its own stage (e.g. build, then test) and connect each one to "
                    "the final image: build a stage FROM the previous one, or "
                    "`COPY --from=<stage> <file> <file>` its result."
                ),
                location=where,
            )
        used = ", ".join(
            f"--from={ref} (line {instruction.line})" for instruction, ref, _ in copies
        )
        return Outcome(
            True,
            f"{len(feeding)} stages ({labels(feeding)}) build the final image"
            + (f"; it copies {used}." if copies else ".")
            + unused_note(unused),
        )


def stage_copies(dockerfile: Dockerfile, final: Stage) -> list[tuple[Instruction, str, Stage]]:
    """COPY --from an earlier stage in the final stage or the stages it is built FROM."""
    found = []
    for stage in final.lineage():
        for instruction, ref in stage.copies_from():
            source = dockerfile.stage_for_reference(ref, before=stage.index)
            if source is not None:
                found.append((instruction, ref, source))
    return found


def labels(stages: list[Stage]) -> str:
    return ", ".join(stage.name or f"stage {stage.index}" for stage in stages)


def unused_note(unused: list[Stage]) -> str:
    if not unused:
        return ""
    listed = "; ".join(stage_title(stage) for stage in unused)
    return f" Not used by the final image: {listed}."


def image_copies_note(final: Stage) -> str:
    images = [f"--from={ref} (line {ins.line})" for ins, ref in final.copies_from()]
    if not images:
        return ""
    return f" ({', '.join(images)} names an image, not a stage of this Dockerfile.)"


def builder_hint(unused: list[Stage]) -> str:
    return unused[0].label if unused else "builder"


def last_stage_note(
    dockerfile: Dockerfile, unused: list[Stage], final: Stage, target: str | None
) -> str:
    """When the stage meant to ship is followed by another one, say that the last one wins."""
    shipping = [stage for stage in unused if stage_copies(dockerfile, stage)]
    if target is not None or not shipping:
        return ""
    meant = shipping[-1]
    return (
        f"Stage {meant.label} (line {meant.from_line}) does copy from an earlier stage, but "
        f"`docker build` produces the last stage ({final.label}): move stage {meant.label} "
        "to the end of the file, or remove the stages after it."
    )


def split_in_two(stage: Stage) -> str:
    return (
        "Build in one stage and ship from another:\n"
        f"  FROM {stage.base} AS builder\n"
        "  ...the build steps...\n"
        "  FROM <small runtime image>\n"
        "  COPY --from=builder <built files> <destination>"
    )
