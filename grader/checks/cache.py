"""ML4-CACHE: changing one file does not re-run an expensive step (the chapter's 4.5).

A throw-away copy of the build context gets the named file changed, then is rebuilt
through the same cache; the step the spec names must report `Using cache`.
"""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from grader.checks.base import Check, Phase
from grader.checks.build import line_of_step
from grader.memo import remembered
from grader.results import Outcome
from grader.buildlog import BuildStep

if TYPE_CHECKING:
    from grader.context import ExerciseContext


class CacheCheck(Check):
    kind: Literal["cache"]
    change: str = Field(description="File to change, relative to the build context.")
    cached_step: str = Field(description="Regex for the step that must come from cache.")

    rule_id: ClassVar[str] = "ML4-CACHE"
    phase: ClassVar[Phase] = Phase.CACHE

    def describe(self) -> str:
        return f"changing {self.change} keeps `{self.cached_step}` cached"

    def run(self, context: ExerciseContext) -> Outcome:
        key = {"image": context.image.id, "check": self.model_dump(), **context.dockerfile_identity}
        return remembered("cache-probe", key, lambda: self.probe(context))

    def probe(self, context: ExerciseContext) -> Outcome:
        source = context.context_dir / self.change
        if not source.is_file():
            return Outcome(
                False,
                f"The build context has no {self.change} to change.",
                fix=f"Restore {self.change} in {context.context_dir}.",
            )
        with tempfile.TemporaryDirectory(prefix="dockerlab-cache-") as scratch:
            copy = Path(scratch) / "context"
            shutil.copytree(context.context_dir, copy, symlinks=True)
            with (copy / self.change).open("a") as changed:
                changed.write(unique_blank_line())
            pattern = re.compile(self.cached_step)
            rebuilt = context.sandbox.build(
                copy,
                context.dockerfile_path,
                f"dockerlab-cache-probe:{context.sandbox.session}",
                build_args=context.exercise.build.build_args,
                target=context.exercise.build.target,
                timeout_s=context.exercise.build.timeout_s,
                throwaway=True,
                # Once the step is seen cached or running, the rest of the build adds nothing.
                stop_when=lambda steps: is_decided(step_running(steps, pattern), steps),
            )
        if not rebuilt.ok and not rebuilt.stopped:
            return Outcome(
                False,
                f"After changing {self.change} the image no longer builds: {rebuilt.error}",
                fix="The build must not depend on the exact bytes of this file.",
            )
        target = step_running(rebuilt.steps, pattern)
        if target is None:
            return Outcome(
                False,
                f"None of the build's {len(rebuilt.steps)} steps runs `{self.cached_step}`, "
                "so there is no expensive step for the cache to keep.",
                fix="Give the build a step of its own for it, after copying only the files it "
                "needs (the lab README shows which), and before copying the rest.",
                location=context.at_line(None),
            )
        line = self.line(context, target)
        if target.cached:
            return Outcome(
                True,
                f"After changing {self.change}, `{target.instruction}` came from the build cache.",
            )
        breaker = first_rebuilt_step(rebuilt.steps, target)
        breaker_line = self.line(context, breaker) if breaker else None
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
            location=context.at_line(breaker_line or line),
        )

    @staticmethod
    def line(context: ExerciseContext, step: BuildStep) -> int | None:
        if context.dockerfile is None:
            return None
        return line_of_step(context.dockerfile, step.number, step.instruction)


def step_running(steps: list[BuildStep], pattern: re.Pattern) -> BuildStep | None:
    """The first step whose instruction runs what `pattern` matches."""
    return next((step for step in steps if pattern.search(step.instruction)), None)


def is_decided(target: BuildStep | None, steps: list[BuildStep]) -> bool:
    """Whether the log has said if `target` came from cache: it did (`Using cache`), or it
    started a container, or a later step began."""
    return target is not None and (
        target.cached or target.container is not None or target is not steps[-1]
    )


def unique_blank_line() -> str:
    """A line of spaces and tabs no earlier probe wrote: harmless in source, HTML, JSON and XML
    alike, and new to the build cache, which may still hold the layers of an earlier probe."""
    bits = secrets.randbits(32)
    return "\n" + "".join(" \t"[(bits >> shift) & 1] for shift in range(32)) + "\n"


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
