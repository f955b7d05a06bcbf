"""GitHub Classroom autograding: the `result` a grader step hands to the autograding reporter.

GitHub Classroom's reporter action (classroom-resources/autograding-grading-reporter) reads,
for each runner step id listed in its `runners` input, the environment variable
`<ID>_RESULTS`: base64 of a JSON object as its own graders write it
(classroom-resources/autograding-command-grader, `generateResult`):

    {"version": 1, "status": "pass" | "fail" | "error", "max_score": N,
     "tests": [{"name", "status", "score", "message", "test_code", "filename", "line_no",
                "duration"}]}

It adds up the tests' `score` against the top-level `max_score` (the points GitHub Classroom
records), prints each test with ✅/❌ and `line_no` when not 0, and fails its step when a
runner's status is "fail" (or "error"). This format renders that base64 text, one line.
"""

from __future__ import annotations

import base64
import json

from grader.reporters.formatting import (
    check_message,
    check_label,
)
from grader.reporters.locations import repository_path, repository_root
from grader.results import CheckResult, LabResult, Status

VERSION = 1  # the `version` the Classroom graders write
DETAIL_LINES = 20


def render(result: LabResult, workspace: str | None = None) -> str:
    """Base64 of the result JSON (see `result_json`), as `<ID>_RESULTS` holds it."""
    text = json.dumps(result_json(result, workspace), ensure_ascii=False)
    return base64.b64encode(text.encode("utf-8")).decode("ascii") + "\n"


def result_json(result: LabResult, workspace: str | None = None) -> dict:
    workspace = workspace or repository_root(result.submission)
    return {
        "version": VERSION,
        # The lab's verdict: a failed gate fails it even when points remain.
        "status": "pass" if result.passed else "fail",
        "max_score": result.max_points,
        "tests": [classroom_test(result, check, workspace) for check in result.checks],
    }


def classroom_test(result: LabResult, check: CheckResult, workspace: str) -> dict:
    location = check.location
    return {
        "name": check_label(check) + (" (required)" if check.required else ""),
        # A skipped check lost its points, so it failed; advice is unscored and passes.
        "status": "pass" if check.status in (Status.PASSED, Status.ADVICE) else "fail",
        "score": 0 if check.status is Status.ADVICE else check.points,
        "message": check_message(check, DETAIL_LINES),
        "test_code": "",  # the Classroom graders put the command they ran here; no such thing
        "filename": repository_path(result.submission, location.file, workspace)
        if location else "",
        "line_no": (location.line or 0) if location else 0,  # 0: the reporter shows no line
        "duration": round(check.duration_s * 1000),  # milliseconds, as the graders measure
    }
