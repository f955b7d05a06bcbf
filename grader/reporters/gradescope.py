"""Gradescope autograder results (`/autograder/results/results.json`): one test per check.

The format is Gradescope's "Autograder Specifications" (gradescope-autograders.readthedocs.io
/en/latest/specs/; tests/fixtures/schemas/gradescope-results.schema.json transcribes it).
Gradescope knows scores, not verdicts: the lab's verdict and the gates that failed lead the
top-level output, and a required check is named so and tagged `required`. When grading cannot
run, `render_error` still gives the learner a results.json: score 0, the error and its hint.
"""

from __future__ import annotations

import json
import math

from grader.reporters.formatting import (
    check_message,
    check_label,
    clean_text,
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
        "execution_time": math.ceil(result.duration_s),  # whole seconds
        "output": "\n".join([*verdict_lines(result), score_line(result), result.summary_line()]),
        "output_format": "text",  # the default, simple_format, renders HTML: `<image>` vanishes
        "visibility": "visible",
        "stdout_visibility": "visible",
        # Gradescope's format has no top-level max_score (the assignment's points are set in
        # Gradescope); stored with the verdict for exports and regrades.
        "extra_data": {"lab": result.lab, "max_score": result.max_points,
                       "pass_mark": result.pass_mark, "passed": result.passed},
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
        "output": check_message(check, DETAIL_LINES),
        "output_format": "text",
        "tags": [check.rule_id, *(["required"] if check.required else [])],
        "visibility": visibility(check),
    }


def visibility(check: CheckResult) -> str:
    """When Gradescope shows a check to the learner: a check the lab hides (`hidden: true`,
    read as optional) once grades are published ('after_published'), others always."""
    return "after_published" if getattr(check, "hidden", False) else "visible"


NOT_YOUR_MARK = (
    "This is not a mark on your work: the grader could not run, so nothing was graded yet.\n"
    "If the message is about your files (a missing folder, a file that cannot be read), fix "
    "them and submit again. Otherwise tell your instructor; submitting again once it is "
    "fixed grades your work."
)


def render_error(message: str, hint: str = "", lab: str = "") -> str:
    """results.json when grading cannot run (exit code 2: no engine, an invalid lab spec, a
    missing folder): score 0 and one failed test saying why and what to do, since Gradescope
    shows the learner only this file."""
    explanation = "\n".join([f"error: {clean_text(message)}",
                             *([f"hint: {clean_text(hint)}"] if hint else []), "", NOT_YOUR_MARK])
    title = f"{lab}: grading could not run" if lab else "Grading could not run"
    results = {
        "score": 0,
        "execution_time": 0,
        "output": f"{title}.\n{explanation}",
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "visible",
        "tests": [{
            "name": title,
            "number": "0",
            "score": 0,
            "max_score": 0,
            "status": "failed",
            "output": explanation,
            "output_format": "text",
            "tags": ["not-graded"],
            "visibility": "visible",
        }],
    }
    return json.dumps(results, indent=2, ensure_ascii=False) + "\n"
