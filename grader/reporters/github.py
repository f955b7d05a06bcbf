"""GitHub Actions: workflow commands that annotate the Dockerfile lines a finding points at,
and a Markdown job summary (the CLI appends it to $GITHUB_STEP_SUMMARY when that is set).
"""

from __future__ import annotations

import re

from grader.reporters.formatting import (
    check_label,
    clean_text,
    explanation_fields,
    number,
    percent,
    score_line,
    tail_lines,
    verdict,
    verdict_lines,
)
from grader.reporters.locations import repository_path, repository_root
from grader.results import CheckResult, LabResult, Status

COMMANDS = {Status.FAILED: "error", Status.ADVICE: "notice"}
DETAIL_LINES = 40


def render(result: LabResult, workspace: str | None = None) -> str:
    """One workflow command per failure (::error) and per advice (::notice), one ::error for a
    failed verdict naming its reasons (the gates that failed), then the score.

    GitHub places an annotation by its path from the repository root: `workspace` (default:
    $GITHUB_WORKSPACE, else the submission's git top-level, else the current folder).
    """
    workspace = workspace or repository_root(result.submission)
    lines = [
        workflow_command(COMMANDS[check.status], check, result.submission, workspace)
        for check in result.checks
        if check.status in COMMANDS
    ]
    if not result.passed:
        title = escape_property(f"{result.lab} verdict: {verdict(result)}")
        message = clean_text("\n".join(verdict_lines(result)))
        lines.append(f"::error title={title}::{escape_data(message)}")
    return "\n".join([*lines, score_line(result), result.summary_line()]) + "\n"


def workflow_command(command: str, check: CheckResult, submission: str, workspace: str) -> str:
    properties = {}
    if check.location:
        properties["file"] = repository_path(submission, check.location.file, workspace)
        if check.location.line:
            properties["line"] = str(check.location.line)
    properties["title"] = f"{check.rule_id} {check.exercise}"
    if check.required:
        properties["title"] += " (required)"
    message = check.what + (f" — fix: {check.fix}" if check.fix else "")
    rendered = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{command} {rendered}::{escape_data(clean_text(message))}"


def escape_data(text: str) -> str:
    """Escape a workflow command's message (GitHub's own toolkit escapes these three)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command property value: ',' ends a property, ':' the properties."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def summary_markdown(result: LabResult) -> str:
    """The job summary: score, a table per exercise, and each failure explained."""
    icon = "✅" if result.passed else "❌"
    lines = [
        f"## {icon} {md(result.lab)} — {md(result.title)}: {verdict(result)}",
        "",
        f"**{md(score_line(result))}** · {md(result.summary_line())}",
        "",
        "| Exercise | Score | Passed | Failed | Skipped |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for exercise in result.exercises:
        counts = [sum(c.status is status for c in exercise.checks)
                  for status in (Status.PASSED, Status.FAILED, Status.SKIPPED)]
        lines.append(
            f"| {md(exercise.id)} — {md(exercise.title)} "
            f"| {number(exercise.points)}/{number(exercise.max_points)} "
            + "".join(f"| {count} " for count in counts) + "|"
        )
    lines.append(f"| **Total** | **{number(result.points)}/{number(result.max_points)}** "
                 f"({percent(result)}) | | | |")
    head, *_ = verdict_lines(result)
    lines += ["", "### Verdict", "", md(head)]
    if result.verdict_reasons:
        lines += ["", *(f"- {md(reason)}" for reason in result.verdict_reasons)]
    for heading, status in (("Failed checks", Status.FAILED), ("Advice", Status.ADVICE)):
        checks = [check for check in result.checks if check.status is status]
        if checks:
            lines += ["", f"### {heading}", ""]
            lines += [line for check in checks for line in finding_markdown(check)]
    skipped = [check for check in result.checks if check.status is Status.SKIPPED]
    if skipped:
        lines += ["", "### Skipped", ""]
        lines += [f"- `{check.rule_id}` {md(check.name)} — {md(check.what)}"
                  + (" (**required**: a failed gate)" if check.failed_gate else "")
                  for check in skipped]
    return "\n".join(lines) + "\n"


def finding_markdown(check: CheckResult) -> list[str]:
    lines = [f"<details><summary>{md(check_label(check))}</summary>", ""]
    lines += [f"- **{label}:** {md(value)}" for label, value in explanation_fields(check)]
    if check.details:
        shown, _ = tail_lines(check.details, DETAIL_LINES)
        fence = "`" * max(3, longest_backtick_run("\n".join(shown)) + 1)
        lines += ["", fence, *shown, fence]
    return [*lines, "", "</details>", ""]


def longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


MARKDOWN_SPECIAL = str.maketrans({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", "\n": " ", "\r": " ",
    **{char: "\\" + char for char in "\\`*_[]|#"},
})


def md(text: str) -> str:
    """Learner text shown literally in Markdown: `FROM <image>` must not vanish as HTML."""
    return clean_text(text).translate(MARKDOWN_SPECIAL)

