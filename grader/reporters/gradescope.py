"""Gradescope autograder results (`/autograder/results/results.json`): one test per check.

Gradescope knows scores, not verdicts: the lab's verdict and the gates that failed lead the
top-level output, and a required check is named so and tagged `required`.
"""

from __future__ import annotations

import json
import math

from grader.reporters.formatting import (
    GATE_NOTE,
    check_label,
    clean_text,
    plain_explanation,
    score_line,
    verdict_lines,
)
from grader.results import CheckResult, LabResult, Status

DETAIL_LINES = 40


def render(result: LabResult) -> str:
    tests = [
        gradescope_test(f"{exercise_number}.{check_number}", check)
        for exercise_number, exercise in enumerate(result.exercises, start=1)
        for check_number, check in enumerate(exercise.checks, start=1)
    ]
    results = {
        "score": result.points,  # given explicitly, it overrides Gradescope's sum of the tests
        "max_score": result.max_points,
        "execution_time": math.ceil(result.duration_s),  # whole seconds
        "output": "\n".join([*verdict_lines(result), score_line(result), result.summary_line()]),
        "visibility": "visible",
        "stdout_visibility": "visible",
        "tests": tests,
    }
    return json.dumps(results, indent=2, ensure_ascii=False) + "\n"


def gradescope_test(number: str, check: CheckResult) -> dict:
    advice = check.status is Status.ADVICE
    return {
        "name": check_label(check) + (" (required)" if check.required else ""),
        "number": number,
        "score": 0 if advice else check.points,
        "max_score": 0 if advice else check.max_points,
        # Gradescope knows only passed/failed: a skipped check lost its points, so it failed.
        "status": "passed" if check.status in (Status.PASSED, Status.ADVICE) else "failed",
        "output": test_output(check),
        "output_format": "text",
        "tags": [check.rule_id, *(["required"] if check.required else [])],
        "visibility": "visible",
    }


def test_output(check: CheckResult) -> str:
    if check.status is Status.PASSED:
        return clean_text(check.what)
    if check.status is Status.SKIPPED:
        gate = f"\ngate: {GATE_NOTE.format(exercise=check.exercise)}" if check.failed_gate else ""
        return f"skipped: {clean_text(check.what)}{gate}"
    prefix = "advice (unscored)\n" if check.status is Status.ADVICE else ""
    return prefix + plain_explanation(check, DETAIL_LINES)
