"""The one result model every reporter renders (terminal, JSON, JUnit, GitHub, Gradescope)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum


class Status(str, Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"  # could not be checked because an earlier step failed
    ADVICE = "advice"  # unscored hint (lint); never changes the score


@dataclass(frozen=True)
class Location:
    """Where a finding points: a file relative to the submission, and a line when known."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class Outcome:
    """What a check found, before points are applied.

    `what` says what is wrong (or what was verified), `fix` how to put it right;
    `fraction` is the share of the check's points earned (partial credit).
    """

    passed: bool
    what: str
    fix: str = ""
    location: Location | None = None
    details: str = ""
    fraction: float | None = None

    @property
    def earned_fraction(self) -> float:
        if self.fraction is not None:
            return max(0.0, min(1.0, self.fraction))
        return 1.0 if self.passed else 0.0


@dataclass
class CheckResult:
    rule_id: str  # stable, documented: docs/checks/<rule_id>.md
    title: str
    exercise: str
    status: Status
    points: float
    max_points: float
    what: str
    fix: str = ""
    location: Location | None = None
    details: str = ""
    duration_s: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.exercise}: {self.title}"

    @property
    def docs_page(self) -> str:
        return f"docs/checks/{self.rule_id}.md"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["status"] = self.status.value
        data["location"] = str(self.location) if self.location else None
        data["docs"] = self.docs_page
        return data


@dataclass
class ExerciseResult:
    id: str
    title: str
    image: str
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def points(self) -> float:
        return sum(check.points for check in self.checks)

    @property
    def max_points(self) -> float:
        return sum(check.max_points for check in self.checks)


@dataclass
class LabResult:
    lab: str
    title: str
    submission: str
    pass_mark: float  # percent
    exercises: list[ExerciseResult] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def checks(self) -> list[CheckResult]:
        return [check for exercise in self.exercises for check in exercise.checks]

    @property
    def points(self) -> float:
        return round(sum(exercise.points for exercise in self.exercises), 2)

    @property
    def max_points(self) -> float:
        return round(sum(exercise.max_points for exercise in self.exercises), 2)

    @property
    def percent(self) -> float:
        return 100.0 * self.points / self.max_points if self.max_points else 0.0

    @property
    def passed(self) -> bool:
        return self.percent + 1e-9 >= self.pass_mark

    def count(self, status: Status) -> int:
        return sum(1 for check in self.checks if check.status is status)

    def summary_line(self) -> str:
        """The closing line CI log readers look for: 'N passed, M failed'."""
        line = f"{self.count(Status.PASSED)} passed, {self.count(Status.FAILED)} failed"
        skipped = self.count(Status.SKIPPED)
        return f"{line}, {skipped} skipped" if skipped else line

    def to_dict(self) -> dict:
        return {
            "lab": self.lab,
            "title": self.title,
            "submission": self.submission,
            "score": self.points,
            "max_score": self.max_points,
            "percent": round(self.percent, 1),
            "pass_mark": self.pass_mark,
            "passed": self.passed,
            "duration_s": round(self.duration_s, 2),
            "summary": self.summary_line(),
            "exercises": [
                {
                    "id": exercise.id,
                    "title": exercise.title,
                    "image": exercise.image,
                    "score": exercise.points,
                    "max_score": exercise.max_points,
                    "checks": [check.to_dict() for check in exercise.checks],
                }
                for exercise in self.exercises
            ],
        }
