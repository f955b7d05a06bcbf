"""Gradescope autograder results (`/autograder/results/results.json`): one test per check."""

from __future__ import annotations

import json
import math

from grader.reporters.formatting import check_label, clean_text, plain_explanation, score_line
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
        "output": f"{score_line(result)}\n{result.summary_line()}",
        "visibility": "visible",
        "stdout_visibility": "visible",
        "tests": tests,
    }
    return json.dumps(results, indent=2, ensure_ascii=False) + "\n"


def gradescope_test(number: str, check: CheckResult) -> dict:
    advice = check.status is Status.ADVICE
    return {
        "name": check_label(check),
        "number": number,
        "score": 0 if advice else check.points,
        "max_score": 0 if advice else check.max_points,
        # Gradescope knows only passed/failed: a skipped check lost its points, so it failed.
        "status": "passed" if check.status in (Status.PASSED, Status.ADVICE) else "failed",
        "output": test_output(check),
        "output_format": "text",
        "tags": [check.rule_id],
        "visibility": "visible",
    }


def test_output(check: CheckResult) -> str:
    if check.status is Status.PASSED:
        return clean_text(check.what)
    if check.status is Status.SKIPPED:
        return f"skipped: {clean_text(check.what)}"
    prefix = "advice (unscored)\n" if check.status is Status.ADVICE else ""
    return prefix + plain_explanation(check, DETAIL_LINES)
