"""ML4-OUTPUT: the image's own command prints what the lab expects (the chapter's 4.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from grader.checks.base import Check
from grader.engine import OUTPUT_CAP
from grader.pipeline.facts import Need
from grader.pipeline.steps.run import RunToCompletion
from grader.results import Outcome

if TYPE_CHECKING:
    from grader.pipeline.facts import Facts


class OutputCheck(Check):
    kind: Literal["output"]
    contains: list[str] = Field(min_length=1, description="Lines expected, in this order.")
    exit_code: int = 0
    timeout_s: float = Field(30, gt=0)

    rule_id: ClassVar[str] = "ML4-OUTPUT"

    def describe(self) -> str:
        return "prints " + ", ".join(f"'{text}'" for text in self.contains)

    def needs(self) -> tuple[Need, ...]:
        return (RunToCompletion(self.timeout_s),)

    def judge(self, facts: Facts) -> Outcome:
        done = facts[RunToCompletion(self.timeout_s)]
        output = done.output
        if done.exit_code is None:
            return Outcome(
                False,
                f"The container was still running after {self.timeout_s:.0f} s.",
                fix="This image's command should print and exit; check CMD in the final stage.",
                details=output[-500:],
            )
        position, found = 0, 0
        for text in self.contains:
            at = output.find(text, position)
            if at < 0:
                break
            position, found = at + len(text), found + 1
        if done.exit_code != self.exit_code:
            return Outcome(
                False,
                f"The container exited with code {done.exit_code}; expected {self.exit_code}.",
                fix="Run it by hand (`docker run --rm <image>`) and read the error.",
                details=output[-500:],
            )
        if found == len(self.contains):
            return Outcome(True, "The output has every expected line, in order.")
        cut = (f" The grader reads the first {OUTPUT_CAP:,} bytes of the output, and the "
               "container printed more." if done.truncated else "")
        return Outcome(
            False,
            f"The output lacks '{self.contains[found]}'"
            + (" after the earlier lines" if found else "")
            + f" ({found} of {len(self.contains)} found)." + cut,
            fix="Each stage must COPY --from the previous one the file it adds to, and the final "
            "stage's CMD prints it; check the spelling of the echoed text.",
            details=output[-500:] or "(no output)",
            fraction=found / len(self.contains),
        )
