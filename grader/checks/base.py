"""What every check kind shares: its parameters are data (validated before any Docker call),
`run(context)` turns a learner's work into an Outcome and never prints or raises for a
learner's mistake."""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from grader.results import Outcome

if TYPE_CHECKING:
    from grader.context import ExerciseContext


class Phase(IntEnum):
    """When a check runs; the runner orders an exercise's checks by phase."""

    STATIC = 10  # reads the Dockerfile only
    BUILD = 20
    IMAGE = 30  # needs the built image
    CACHE = 40  # rebuilds a changed copy of the context
    RUN = 50  # needs the running container(s)


class Check(BaseModel):
    """One entry of an exercise's `checks:` list in lab.yml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    points: float = Field(0, ge=0, description="Points this check is worth; 0 makes it advisory.")
    title: str | None = Field(None, description="Overrides the generated title in reports.")

    rule_id: ClassVar[str]
    phase: ClassVar[Phase]

    def describe(self) -> str:
        """A short title saying what the check expects, e.g. 'final image ≤ 30 MB'."""
        raise NotImplementedError

    @property
    def display_title(self) -> str:
        return self.title or self.describe()

    def run(self, context: ExerciseContext) -> Outcome:
        raise NotImplementedError
