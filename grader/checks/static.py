"""What the check kinds that read the parsed Dockerfile share: the answer for a missing file,
and the stage `docker build` produces (the last one, or the exercise's build target)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from grader.checks.base import Check
from grader.dockerfile import Dockerfile, Stage
from grader.pipeline.facts import Need
from grader.pipeline.steps.parse import DOCKERFILE
from grader.results import Outcome

if TYPE_CHECKING:
    from grader.pipeline.facts import Facts


class DockerfileCheck(Check):
    """A check of the parsed Dockerfile; subclasses implement `inspect`."""

    def needs(self) -> tuple[Need, ...]:
        return (DOCKERFILE,)

    def judge(self, facts: Facts) -> Outcome:
        dockerfile = facts[DOCKERFILE]
        if dockerfile is None:
            return missing_dockerfile(facts)
        target = facts.exercise.build.target
        if target is not None and dockerfile.stage_for_reference(target) is None:
            known = ", ".join(stage.label for stage in dockerfile.stages)
            return Outcome(
                False,
                f"{facts.dockerfile_display} has no stage named '{target}', the stage this "
                f"exercise builds (its stages: {known}).",
                fix=f"Name the stage you ship `{target}`: `FROM <image> AS {target}`.",
                location=facts.at_line(None),
            )
        return self.inspect(facts, dockerfile, dockerfile.final_stage(target))

    def inspect(self, facts: Facts, dockerfile: Dockerfile, final: Stage) -> Outcome:
        """Judge `dockerfile`, whose stage `final` is the image the exercise builds."""
        raise NotImplementedError


def missing_dockerfile(facts: Facts) -> Outcome:
    path = facts.dockerfile_display
    if facts.dockerfile.exists:
        return Outcome(
            False,
            f"{path} could not be read as a Dockerfile, so it was not checked.",
            fix="Make it a text file of Dockerfile instructions that `docker build` accepts.",
            location=facts.at_line(None),
        )
    return Outcome(
        False,
        f"There is no Dockerfile at {path}.",
        fix=f"Create {path}; the exercise's README says what it must contain.",
        location=facts.at_line(None),
    )


def stage_title(stage: Stage) -> str:
    return f"stage {stage.label} (FROM {stage.base}, line {stage.from_line})"
