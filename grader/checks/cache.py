"""ML4-CACHE: changing one file does not re-run an expensive step (the chapter's 4.5).

The probe step rebuilds a throw-away copy of the build context with the named file
changed, through the same cache; the step the spec names must report `Using cache`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from grader.checks.base import Check
from grader.engine import BuildStep
from grader.pipeline.facts import Need
from grader.pipeline.steps.probe import CacheProbe, ProbeFacts
from grader.results import Outcome

if TYPE_CHECKING:
    from grader.pipeline.facts import Facts


class CacheCheck(Check):
    kind: Literal["cache"]
    change: str = Field(description="File to change, relative to the build context.")
    cached_step: str = Field(description="Regex for the step that must come from cache.")

    rule_id: ClassVar[str] = "ML4-CACHE"

    def describe(self) -> str:
        return f"changing {self.change} keeps `{self.cached_step}` cached"

    def needs(self) -> tuple[Need, ...]:
        return (self.probe,)

    @property
    def probe(self) -> CacheProbe:
        return CacheProbe(self.change, self.cached_step)

    def context_files(self) -> list[str]:
        return [self.change]

    def judge(self, facts: Facts) -> Outcome:
        probe: ProbeFacts = facts[self.probe]
        rebuilt, target = probe.rebuilt, probe.target
        if rebuilt is None:
            return Outcome(
                False,
                f"The build context has no {self.change} to change (a file inside the "
                "context; a link leading out of it does not count).",
                fix=f"Restore {self.change} in {facts.context_dir}.",
            )
        if not rebuilt.ok and not rebuilt.stopped:
            return Outcome(
                False,
                f"After changing {self.change} the image no longer builds: {rebuilt.error}",
                fix="The build must not depend on the exact bytes of this file.",
            )
        if target is None:
            return Outcome(
                False,
                f"None of the build's {len(rebuilt.steps)} steps runs `{self.cached_step}`, "
                "so there is no expensive step for the cache to keep.",
                fix="Give the build a step of its own for it, after copying only the files it "
                "needs (the lab README shows which), and before copying the rest.",
                location=facts.at_line(None),
            )
        if target.cached:
            return Outcome(
                True,
                f"After changing {self.change}, `{target.instruction}` came from the build cache.",
            )
        line = facts.step_location(target).line
        breaker = first_rebuilt_step(rebuilt.steps, target)
        breaker_line = facts.step_location(breaker).line if breaker else None
        why = (
            f"`{breaker.instruction}` (line {breaker_line}) copies {self.change}, so Docker "
            "re-ran every later step of that stage"
            if breaker is not None and breaker is not target
            else "the step's own inputs changed"
        )
        return Outcome(
            False,
            f"Changing {self.change} re-ran `{target.instruction}` (line {line}): {why}.",
            fix=f"Before `{target.instruction}`, COPY only the files it needs (not {self.change}); "
            "copy the rest after it, or in the final stage.",
            location=facts.at_line(breaker_line or line),
        )


def first_rebuilt_step(steps: list[BuildStep], target: BuildStep) -> BuildStep | None:
    """The step where the cache broke in the target's stage: the first one that ran."""
    stage_start = 0
    for index, step in enumerate(steps):
        if step.instruction.upper().startswith("FROM "):
            stage_start = index
        if step is target:
            break
    for step in steps[stage_start : steps.index(target) + 1]:
        if not step.cached and not step.instruction.upper().startswith("FROM "):
            return step
    return None
