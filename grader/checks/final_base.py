"""ML4-BASE: the final image starts from a small runtime image, not the SDK it was built with
(chapter 4.5: fewer tools in the image you ship — smaller, and less for an attacker to use)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, model_validator

from grader.checks.static import DockerfileCheck
from grader.dockerfile import Dockerfile, Stage
from grader.results import Outcome

if TYPE_CHECKING:
    from grader.pipeline.facts import Facts

DOCKER_HUB_PREFIXES = ("docker.io/", "index.docker.io/", "registry-1.docker.io/")


class FinalBaseCheck(DockerfileCheck):
    kind: Literal["final-base"] = "final-base"
    allowed: list[str] = Field(
        default_factory=list,
        description="Images the final stage may start from (tag ignored); empty: any image "
        "not forbidden. `scratch` counts only when listed.",
    )
    forbidden: list[str] = Field(
        default_factory=list,
        description="Images the final stage must not start from, e.g. the SDK images.",
    )

    rule_id: ClassVar[str] = "ML4-BASE"

    @model_validator(mode="after")
    def something_to_check(self) -> FinalBaseCheck:
        if not self.allowed and not self.forbidden:
            raise ValueError("give `allowed` or `forbidden` images (or both)")
        return self

    def describe(self) -> str:
        if self.allowed:
            return f"the final image is based on {' or '.join(self.allowed)}"
        return f"the final image is not based on {' or '.join(self.forbidden)}"

    def inspect(self, facts: Facts, dockerfile: Dockerfile, final: Stage) -> Outcome:
        root = final.root_image()
        name = image_name(root)
        where = facts.at_line(final.from_line)
        chain = from_chain(final)

        if name in {image_name(image) for image in self.forbidden}:
            return Outcome(
                False,
                f"The final image is based on {root}, which this exercise forbids: {chain}.",
                fix=self.fix(dockerfile, final),
                location=where,
            )
        if self.allowed and name not in {image_name(image) for image in self.allowed}:
            return Outcome(
                False,
                f"The final image is based on {root}; the exercise expects "
                f"{' or '.join(self.allowed)}: {chain}.",
                fix=self.fix(dockerfile, final),
                location=where,
            )
        return Outcome(True, f"The final image is based on {root} ({chain}).")

    def fix(self, dockerfile: Dockerfile, final: Stage) -> str:
        runtime = self.allowed[0] if self.allowed else "<a small runtime image>"
        if final.index == 0:
            return (
                "Build in a first stage and ship from a second one:\n"
                f"  FROM {final.base} AS builder\n"
                "  ...the build steps...\n"
                f"  FROM {runtime}\n"
                "  COPY --from=builder <built files> <destination>"
            )
        return (
            f"Start the final stage from {runtime} and copy the build output into it:\n"
            f"  FROM {runtime}\n"
            f"  COPY --from={dockerfile.stages[0].label} <built files> <destination>"
        )


def image_name(reference: str) -> str:
    """`docker.io/library/node:18@sha256:…` -> `node`: the name without registry, tag, digest."""
    name = reference.strip().lower().split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    for prefix in DOCKER_HUB_PREFIXES:
        name = name.removeprefix(prefix)
    return name.removeprefix("library/")


def from_chain(final: Stage) -> str:
    """How the final stage reaches its image, e.g. 'FROM builder at line 9 -> FROM
    ${SDK} = diamol/golang at line 1'."""
    steps = []
    for stage in reversed(final.lineage()):
        resolved = f" = {stage.resolved_base}" if stage.resolved_base != stage.base else ""
        steps.append(f"FROM {stage.base}{resolved} at line {stage.from_line}")
    return " -> ".join(steps)
