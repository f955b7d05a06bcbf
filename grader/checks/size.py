"""ML4-SIZE: the final image fits the lab's size budget."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from grader.checks.base import Check
from grader.pipeline.facts import Need
from grader.pipeline.steps.build import IMAGE
from grader.results import Outcome

if TYPE_CHECKING:
    from grader.pipeline.facts import Facts


class SizeCheck(Check):
    kind: Literal["size"]
    max_mb: float = Field(gt=0, description="Budget in MB (1 MB = 1,000,000 bytes, as docker shows).")

    rule_id: ClassVar[str] = "ML4-SIZE"

    def describe(self) -> str:
        return f"final image ≤ {self.max_mb:g} MB"

    def needs(self) -> tuple[Need, ...]:
        return (IMAGE,)

    def judge(self, facts: Facts) -> Outcome:
        size = facts[IMAGE].size_mb
        if size <= self.max_mb:
            return Outcome(True, f"The image is {size:.1f} MB (budget {self.max_mb:g} MB).")
        final = facts.final_stage
        base = final.root_image() if final else "its base"
        return Outcome(
            False,
            f"The image is {size:.1f} MB; the budget is {self.max_mb:g} MB "
            f"({size / self.max_mb:.1f}× over). Its final stage starts from {base}.",
            fix="Build in an SDK stage and start the final stage from a small runtime image "
            "(diamol/base for a Go binary, diamol/openjdk for a jar), then COPY --from the "
            "builder only what runs.",
            location=facts.at_final_from(),
        )
