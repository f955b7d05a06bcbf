"""ML4-LINT: hadolint's advice on the Dockerfile. Advisory with `points: 0` (the default):
any finding is shown as advice; with points it passes when no error or warning is left.
A missing or failing hadolint never breaks grading: the check passes and says lint was skipped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from pydantic import Field

from grader.checks.base import Check
from grader.checks.static import missing_dockerfile
from grader.pipeline.facts import Need
from grader.pipeline.steps.parse import LEVEL_ORDER, Lint
from grader.results import Outcome

if TYPE_CHECKING:
    from grader.pipeline.facts import Facts

BLOCKING_LEVELS = ("error", "warning")
RuleCode = Annotated[str, Field(pattern=r"^(DL|SC)\d{4}$")]


class LintCheck(Check):
    kind: Literal["lint"] = "lint"
    ignore: list[RuleCode] = Field(
        default_factory=list, description="hadolint rules not to report, e.g. [DL3008, DL3018]."
    )

    rule_id: ClassVar[str] = "ML4-LINT"

    def describe(self) -> str:
        return "hadolint finds no problems" if self.points else "hadolint's advice"

    def needs(self) -> tuple[Need, ...]:
        return (self.lint,)

    @property
    def lint(self) -> Lint:
        return Lint(tuple(self.ignore))

    def judge(self, facts: Facts) -> Outcome:
        report = facts[self.lint]
        if report is None:
            return missing_dockerfile(facts)
        if report.skipped:
            return Outcome(True, f"Lint skipped: {report.skipped}.")
        findings = report.findings
        display = facts.dockerfile_display
        if not findings:
            return Outcome(True, f"hadolint has no advice for {display}.")
        blocking = [finding for finding in findings if finding.level in BLOCKING_LEVELS]
        first = blocking[0] if blocking else findings[0]
        # Scored, only errors and warnings fail; as advice (0 points) every finding is shown,
        # and the runner shows a zero-point check that did not pass as ADVICE.
        return Outcome(
            not (blocking if self.points else findings),
            f"hadolint reports {count_by_level(findings)} in {display}.",
            fix="Read each rule's page (linked below) and change the line it names; "
            "`# hadolint ignore=` comments are not honoured here.",
            location=facts.at_line(first.line),
            details="\n".join(finding.render(display) for finding in findings),
        )



def count_by_level(findings) -> str:
    counts = {level: 0 for level in LEVEL_ORDER}
    for finding in findings:
        counts[finding.level] = counts.get(finding.level, 0) + 1
    # "2 warnings", "3 info": hadolint's own level names, counted.
    parts = [
        f"{count} {level}{'s' if count > 1 and level in BLOCKING_LEVELS else ''}"
        for level, count in counts.items()
        if count
    ]
    return ", ".join(parts)
