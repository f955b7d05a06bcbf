"""Text helpers every reporter shares, so all formats word a finding the same way."""

from __future__ import annotations

import re

from grader.results import (
    CheckResult,
    ExerciseResult,
    LabResult,
    Status,
    reaches,
    shown_percent,
)

# ANSI escape sequences (colours, cursor moves) and the control characters XML 1.0 forbids:
# build logs carry both, and neither belongs in a report.
ANSI_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
GATE_NOTE = "a required check: {exercise} cannot pass until it does"


def clean_text(text: str) -> str:
    """Text without terminal escapes or control characters; newlines and tabs are kept."""
    text = ANSI_ESCAPE.sub("", text).replace("\r\n", "\n")
    # A bare carriage return redraws a progress line: the last redraw is what a reader saw.
    lines = [line.rsplit("\r", 1)[-1] for line in text.split("\n")]
    return CONTROL_CHARS.sub("", "\n".join(lines))


def tail_lines(text: str, limit: int) -> tuple[list[str], int]:
    """The last `limit` lines of `text` (trailing blank lines dropped), and how many were cut."""
    lines = clean_text(text).rstrip().splitlines()
    if len(lines) <= limit:
        return lines, 0
    return lines[-limit:], len(lines) - limit


def omitted_note(shown: list[str], omitted: int) -> str:
    return f" (last {len(shown)} of {len(shown) + omitted} lines)" if omitted else ""


def number(value: float) -> str:
    """A score as people write it: 10, 7.5, 0.25 (never 10.0)."""
    return f"{round(value, 2):g}"


def percent(result: LabResult) -> str:
    # Rounded down, so a score just below the pass mark never displays as reaching it.
    return shown_percent(result.percent)


def verdict(result: LabResult) -> str:
    return "PASSED" if result.passed else "FAILED"


def score_line(result: LabResult) -> str:
    """'Score 83/100 (83%) — pass mark 70%: PASSED'."""
    return (
        f"Score {number(result.points)}/{number(result.max_points)} ({percent(result)})"
        f" — pass mark {number(result.pass_mark)}%: {verdict(result)}"
    )


def verdict_lines(result: LabResult) -> list[str]:
    """'Verdict: FAILED — every exercise must … (70%).' and, indented, each reason: the lab's
    verdict as every format words it, naming the gates that failed."""
    head = f"Verdict: {verdict(result)} — {result.verdict_rule}."
    return [head, *(f"  - {reason}" for reason in result.verdict_reasons)]


def exercise_verdict(result: LabResult, exercise: ExerciseResult) -> str:
    """'passed', or 'FAILED: required ML4-TOOLS, below 70%' — one exercise's verdict, short
    enough for a table caption (the verdict lines give the reasons in full)."""
    if result.exercise_passed(exercise):
        return "passed"
    gates = list(dict.fromkeys(gate.rule_id for gate in exercise.failed_gates))
    causes = []
    if gates:
        causes.append("required " + ", ".join(gates) if len(gates) <= 2
                      else f"{len(gates)} required checks")
    if not reaches(exercise.percent, result.pass_mark):
        causes.append(f"below {number(result.pass_mark)}%")
    return "FAILED: " + ", ".join(causes)


def check_label(check: CheckResult) -> str:
    """'ML4-SIZE image-gallery: final image ≤ 30 MB' — how every format names one check."""
    return f"{check.rule_id} {check.name}"


def explanation_fields(check: CheckResult) -> list[tuple[str, str]]:
    """The what / where / how-to-fix / docs of a finding, skipping what the check left empty."""
    fields = [
        ("what", check.what),
        ("gate", GATE_NOTE.format(exercise=check.exercise) if check.failed_gate else ""),
        ("where", str(check.location) if check.location else ""),
        ("how to fix", check.fix),
        ("docs", check.docs_page),
    ]
    return [(label, clean_text(value)) for label, value in fields if value]


def plain_explanation(check: CheckResult, detail_limit: int) -> str:
    """A finding as plain text for machine formats (JUnit failure text, Gradescope output)."""
    width = max(len(label) for label, _ in explanation_fields(check))
    lines = [f"{label + ':':<{width + 1}} {value}" for label, value in explanation_fields(check)]
    if check.details:
        shown, omitted = tail_lines(check.details, detail_limit)
        lines += [f"details{omitted_note(shown, omitted)}:", *(f"  {line}" for line in shown)]
    return "\n".join(lines)


def check_message(check: CheckResult, detail_limit: int) -> str:
    """One check's text where an LMS shows one per test (Gradescope, GitHub Classroom): what
    it verified; why it was skipped; or what is wrong, where and how to fix it."""
    if check.status is Status.PASSED:
        return clean_text(check.what)
    if check.status is Status.SKIPPED:
        gate = f"\ngate: {GATE_NOTE.format(exercise=check.exercise)}" if check.failed_gate else ""
        return f"skipped: {clean_text(check.what)}{gate}"
    prefix = "advice (unscored)\n" if check.status is Status.ADVICE else ""
    return prefix + plain_explanation(check, detail_limit)
