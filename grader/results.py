"""The one result model every reporter renders (terminal, JSON, JUnit, GitHub, Gradescope).

It also holds the verdict policy (docs/reference/verdict.md): an exercise passes only when
each of its required checks (gates) passed — a skipped one fails its gate — and its score
reaches the pass mark; the lab's `verdict:` says how the exercises make the lab's verdict.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, Literal

# lab.yml `verdict:`. every-exercise: each graded exercise passes its gates and reaches the
# pass mark. total-score: the total reaches the pass mark and no gate failed anywhere.
VerdictPolicy = Literal["every-exercise", "total-score"]
EVERY_EXERCISE: VerdictPolicy = "every-exercise"
TOTAL_SCORE: VerdictPolicy = "total-score"
POLICY_RULES: dict[str, str] = {
    EVERY_EXERCISE: "every exercise must pass its required checks and reach the pass mark",
    TOTAL_SCORE: "the total score must reach the pass mark, and every required check pass",
}


class Status(str, Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"  # could not be checked because an earlier step failed
    ADVICE = "advice"  # unscored hint (lint); never changes the score


@dataclass(frozen=True)
class Location:
    """Where a finding points: a file as the learner knows it (relative to the folder the
    grader ran in when inside it, else absolute; a result built by hand may name it relative
    to the submission), and a line when known. Reporters that need a repository path resolve
    it with grader/reporters/locations.py."""

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
    # Figures for charts and gradebooks, JSON-ready (ML4-SIZE: sizes, budget, layers).
    measured: dict[str, Any] = field(default_factory=dict)

    @property
    def earned_fraction(self) -> float:
        if self.fraction is not None:
            return max(0.0, min(1.0, self.fraction))
        return 1.0 if self.passed else 0.0


DOCS_URL_VARIABLE = "DOCKERLAB_DOCS_URL"


def docs_page(rule_id: str) -> str:
    """Where a rule's page is read: `<DOCKERLAB_DOCS_URL>/checks/<rule>/` on the published
    site (mkdocs's URL for docs/checks/<rule>.md) when that variable names the site's base
    URL, e.g. https://dockerlab.example.edu/; unset or empty, `docs/checks/<rule>.md` in the
    repository."""
    base = os.environ.get(DOCS_URL_VARIABLE, "").strip()
    if base:
        return f"{base.rstrip('/')}/checks/{rule_id}/"
    return f"docs/checks/{rule_id}.md"


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
    required: bool = False  # a gate: its exercise fails unless it passed
    measured: dict[str, Any] = field(default_factory=dict)  # the outcome's figures
    hidden: bool = False  # kept from learners; only instructor runs judge it

    @property
    def name(self) -> str:
        return f"{self.exercise}: {self.title}"

    @property
    def failed_gate(self) -> bool:
        """A required check that did not pass; one skipped was not shown to pass, so it counts."""
        return self.required and self.status is not Status.PASSED

    def gate_text(self) -> str:
        """'required check ML4-TOOLS (no `go` in the final image) failed' — how every format
        words a failed gate."""
        text = f"required check {self.rule_id} ({self.title})"
        if self.status is Status.SKIPPED:
            reason = self.what.removeprefix("not checked: ")
            return f"{text} was not checked: {reason}" if reason else f"{text} was not checked"
        return f"{text} failed"

    @property
    def docs_page(self) -> str:
        """The rule's page: on the published site when DOCKERLAB_DOCS_URL names it, else the
        file in the repository (docs/instructors/site.md)."""
        return docs_page(self.rule_id)

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

    @property
    def percent(self) -> float:
        """Its score in percent; an exercise worth no points has nothing to reach: 100."""
        return 100.0 * self.points / self.max_points if self.max_points else 100.0

    @property
    def failed_gates(self) -> list[CheckResult]:
        return [check for check in self.checks if check.failed_gate]

    def shortfalls(self, pass_mark: float) -> list[str]:
        """Why it does not pass: each failed gate, then a score below the pass mark."""
        reasons = [gate.gate_text() for gate in self.failed_gates]
        if not reaches(self.percent, pass_mark):
            reasons.append(f"{shown_percent(self.percent)} is below the {pass_mark:g}% pass mark")
        return reasons

    def passes(self, pass_mark: float) -> bool:
        """Every required check passed and its own score reaches the pass mark."""
        return not self.shortfalls(pass_mark)


@dataclass
class LabResult:
    lab: str
    title: str
    submission: str
    pass_mark: float  # percent
    exercises: list[ExerciseResult] = field(default_factory=list)
    duration_s: float = 0.0
    verdict_policy: VerdictPolicy = TOTAL_SCORE

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
    def failed_gates(self) -> list[CheckResult]:
        return [gate for exercise in self.exercises for gate in exercise.failed_gates]

    def exercise_passed(self, exercise: ExerciseResult) -> bool:
        return exercise.passes(self.pass_mark)

    @property
    def verdict_reasons(self) -> list[str]:
        """Why the lab does not pass, by its policy ([] when it passes); each reason names
        its exercise: 'lab: required check ML4-TOOLS (…) failed'."""
        if self.verdict_policy == EVERY_EXERCISE:
            return [f"{exercise.id}: {reason}" for exercise in self.exercises
                    for reason in exercise.shortfalls(self.pass_mark)]
        reasons = [f"{gate.exercise}: {gate.gate_text()}" for gate in self.failed_gates]
        if not reaches(self.percent, self.pass_mark):
            reasons.append(f"the total, {shown_percent(self.percent)}, is below the "
                           f"{self.pass_mark:g}% pass mark")
        return reasons

    @property
    def passed(self) -> bool:
        """The lab's verdict under its policy (the CLI's exit code follows it)."""
        return not self.verdict_reasons

    @property
    def verdict_rule(self) -> str:
        """What the policy asks, e.g. 'every exercise must pass … the pass mark (70%)'."""
        return f"{POLICY_RULES[self.verdict_policy]} ({self.pass_mark:g}%)"

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
            "verdict": {
                "policy": self.verdict_policy,
                "rule": self.verdict_rule,
                "passed": self.passed,
                "reasons": self.verdict_reasons,
            },
            "duration_s": round(self.duration_s, 2),
            "summary": self.summary_line(),
            "exercises": [
                {
                    "id": exercise.id,
                    "title": exercise.title,
                    "image": exercise.image,
                    "score": exercise.points,
                    "max_score": exercise.max_points,
                    "percent": round(exercise.percent, 1),
                    "passed": self.exercise_passed(exercise),
                    "failed_gates": [
                        {"rule_id": gate.rule_id, "title": gate.title,
                         "status": gate.status.value, "what": gate.what}
                        for gate in exercise.failed_gates
                    ],
                    "checks": [check.to_dict() for check in exercise.checks],
                }
                for exercise in self.exercises
            ],
        }


def reaches(percent: float, pass_mark: float) -> bool:
    return percent + 1e-9 >= pass_mark


def shown_percent(value: float) -> str:
    """'92.4%'. Rounded down, so a score just below the pass mark never shows as reaching it."""
    return f"{math.floor(value * 10) / 10:g}%"
