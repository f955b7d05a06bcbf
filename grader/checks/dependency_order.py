"""ML4-ORDER: dependency files are copied, and dependencies fetched, before the rest of the
source — so a source change reuses the cached dependency layer (chapter 4.5: a well-ordered
Dockerfile skips most build steps)."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, field_validator

from grader.checks.static import DockerfileCheck
from grader.dockerfile import Dockerfile, Instruction, Stage
from grader.results import Outcome

if TYPE_CHECKING:
    from grader.pipeline.facts import Facts

GLOB_CHARACTERS = re.compile(r"[*?\[]")
REMOTE_SOURCE = re.compile(r"^(https?://|git@)")


class DependencyOrderCheck(DockerfileCheck):
    kind: Literal["dependency-order"] = "dependency-order"
    step: str = Field(
        description="Regular expression for the RUN that fetches dependencies, "
        "e.g. 'npm (ci|install)'."
    )
    inputs: list[str] = Field(
        min_length=1,
        description="The only build-context files that may be copied before that step, "
        "e.g. [package.json, package-lock.json].",
    )

    rule_id: ClassVar[str] = "ML4-ORDER"

    @field_validator("step")
    @classmethod
    def valid_pattern(cls, step: str) -> str:
        try:
            re.compile(step)
        except re.error as error:
            raise ValueError(f"not a valid regular expression: {error}") from error
        return step

    def describe(self) -> str:
        return f"only {', '.join(self.inputs)} are copied before `{self.step}`"

    def inspect(self, facts: Facts, dockerfile: Dockerfile, final: Stage) -> Outcome:
        steps = self.dependency_steps(dockerfile, final)
        if not steps:
            return Outcome(
                False,
                f"None of the {len(dockerfile.stages)} stage(s) has a RUN matching "
                f"`{self.step}`, so the dependencies are not fetched in a step of their own.",
                fix=self.reordered(),
                location=facts.at_line(final.from_line),
            )
        wanted = {normalise(path) for path in self.inputs}
        for stage, step in steps:
            for copy in context_copies_before(stage, step):
                extra = sources_beyond(copy, wanted, facts.context_dir)
                if extra:
                    return Outcome(
                        False,
                        f"`{copy}` (line {copy.line}) copies {', '.join(extra)} before "
                        f"`{step}` (line {step.line}) in stage {stage.label}: every source change "
                        "invalidates the cache from that COPY on, so the dependency step runs "
                        "again on every build.",
                        fix=self.reordered(copy, step),
                        location=facts.at_line(copy.line),
                    )
        _, step = steps[0]
        return Outcome(
            True,
            f"`{step}` (line {step.line}) runs after copying only {', '.join(self.inputs)}, "
            "so source changes reuse its cached layer.",
        )

    def dependency_steps(
        self, dockerfile: Dockerfile, final: Stage
    ) -> list[tuple[Stage, Instruction]]:
        """The first matching RUN of each stage, preferring the stages the final image uses."""
        pattern = re.compile(self.step)
        found = []
        for stage in dockerfile.stages:
            runs = [ins for ins in stage.find("RUN") if pattern.search(" ".join(ins.arguments))]
            if runs:
                found.append((stage, runs[0]))
        feeding = dockerfile.stages_feeding(final)
        return [(stage, step) for stage, step in found if stage in feeding] or found

    def reordered(self, copy: Instruction | None = None, step: Instruction | None = None) -> str:
        destination = copy.arguments[-1] if copy and copy.arguments else "./"
        if len(self.inputs) > 1 and not destination.endswith("/"):
            destination = "./" if destination == "." else destination + "/"
        lines = [
            f"COPY {' '.join(self.inputs)} {destination}",
            str(step) if step else f"RUN <the command matching `{self.step}`>",
            str(copy) if copy else "COPY . .",
        ]
        return (
            f"Copy only {', '.join(self.inputs)} first, fetch the dependencies, then copy the "
            "rest:\n" + "\n".join(f"  {line}" for line in lines)
        )


def context_copies_before(stage: Stage, step: Instruction) -> Iterator[Instruction]:
    """COPY/ADD from the build context that the step's layer depends on, parents included."""
    for current in stage.lineage():
        for instruction in current.instructions:
            if instruction is step:
                return
            if instruction.keyword in ("COPY", "ADD") and "from" not in instruction.flags:
                yield instruction


def sources_beyond(copy: Instruction, wanted: set[str], context_dir: Path) -> list[str]:
    """The sources of `copy` that bring in more than the wanted files, as the learner wrote them."""
    extra = []
    for source in copy.arguments[:-1]:
        if REMOTE_SOURCE.match(source):
            continue
        path = normalise(source)
        if GLOB_CHARACTERS.search(path):
            # A wildcard is fine when everything it picks from the context is wanted.
            matched = context_dir.glob(path) if context_dir.is_dir() else []
            beyond = sorted({str(found.relative_to(context_dir)) for found in matched} - wanted)
            if beyond:
                extra.append(f"{source} ({', '.join(beyond)})")
        elif path not in wanted:
            extra.append("the whole build context (.)" if path == "." else source)
    return extra


def normalise(path: str) -> str:
    """A build-context path as Docker resolves it: relative, without ./ or a trailing /."""
    return posixpath.normpath(path.lstrip("/")) if path.strip("/") else "."
