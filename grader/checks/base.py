"""What every check kind shares: its parameters are data (validated before any Docker call),
`needs()` names the facts it reads, and `judge(facts)` turns them into an Outcome — it never
calls the engine, prints, or raises for a learner's mistake."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from grader.pipeline.facts import Need, Phase
from grader.results import Outcome

if TYPE_CHECKING:
    from grader.pipeline.facts import Facts


class Check(BaseModel):
    """One entry of an exercise's `checks:` list in lab.yml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    points: float = Field(0, ge=0, description="Points this check is worth; 0 makes it advisory.")
    title: str | None = Field(None, description="Overrides the generated title in reports.")
    required: bool = Field(
        False,
        description="A gate: the exercise fails unless this check passes (skipped counts as "
        "failed), whatever its score. See docs/reference/verdict.md.",
    )
    hidden: bool = Field(
        False,
        description="Kept from learners: a learner's run neither runs nor shows it, and "
        "the student release leaves it out; instructor runs (`--instructor`, `batch`, the "
        "Gradescope bundle) run it, and Gradescope shows it to learners only once grades "
        "are published.",
    )

    rule_id: ClassVar[str]

    def describe(self) -> str:
        """A short title saying what the check expects, e.g. 'final image ≤ 30 MB'."""
        raise NotImplementedError

    @property
    def display_title(self) -> str:
        return self.title or self.describe()

    def needs(self) -> tuple[Need, ...]:
        """The facts `judge` reads; the runner fulfils them first, or skips the check with
        the reason one is unavailable."""
        raise NotImplementedError

    @property
    def phase(self) -> Phase:
        return max(need.phase for need in self.needs())

    def called_ports(self) -> list[int]:
        """Container ports this check calls (the spec makes sure `run.ports` publishes them)."""
        return []

    def context_files(self) -> list[str]:
        """Files of the build context this check relies on (`dockerlab check` looks for them)."""
        return []

    def judge(self, facts: Facts) -> Outcome:
        raise NotImplementedError


__all__ = ["Check", "Phase"]
