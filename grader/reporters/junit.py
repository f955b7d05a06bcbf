"""JUnit XML in the Jenkins/Ant dialect that Jenkins, GitLab and GitHub test reporters read,
valid against the Jenkins xUnit plugin's JUnit schema (junit-10.xsd, vendored in
tests/fixtures/schemas/).

One <testsuite> per exercise, one <testcase> per check. That schema allows a <testcase> no
attributes but name, classname, time and group, and no <properties>; so each check's points,
file and line sit in its suite's <properties>, keyed by the testcase name, and the suite's
`file` attribute names the exercise's Dockerfile (relative to the repository root). Only
<testsuite> may count `skipped`. A required check that did not pass is a <failure>, also when
it was skipped: its exercise failed that gate.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from grader.reporters.formatting import (
    GATE_NOTE,
    clean_text,
    exercise_verdict,
    number,
    plain_explanation,
)
from grader.reporters.locations import repository_path, repository_root
from grader.results import CheckResult, ExerciseResult, LabResult, Status

DETAIL_LINES = 60  # CI pages show long failure texts well; a whole build log would swamp them


def render(result: LabResult, workspace: str | None = None) -> str:
    """The JUnit XML; files are named from the repository root, `workspace` (default as for
    GitHub annotations: $GITHUB_WORKSPACE, else the submission's git top-level)."""
    checks = result.checks
    root = ET.Element(
        "testsuites",
        name=f"{result.lab} — {result.title}",
        tests=str(len(checks)),
        failures=str(sum(fails(check) for check in checks)),
        errors="0",  # grader problems abort grading (exit code 2); they never reach a report
        # no `skipped` here: the schema allows it on <testsuite> only; readers add them up
        time=seconds(result.duration_s),
    )
    workspace = workspace or repository_root(result.submission)
    for exercise in result.exercises:
        root.append(testsuite(result, exercise, workspace))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def testsuite(result: LabResult, exercise: ExerciseResult, workspace: str) -> ET.Element:
    files = [repository_path(result.submission, check.location.file, workspace)
             if check.location else None for check in exercise.checks]
    suite = ET.Element(
        "testsuite",
        name=f"{result.lab}.{exercise.id}",
        tests=str(len(exercise.checks)),
        failures=str(sum(fails(check) for check in exercise.checks)),
        errors="0",
        skipped=str(sum(skips(check) for check in exercise.checks)),
        time=seconds(sum(check.duration_s for check in exercise.checks)),
    )
    named = {file for file in files if file}
    if len(named) == 1:  # the exercise's Dockerfile, which all its findings name
        suite.set("file", clean_text(named.pop()))
    properties = ET.SubElement(suite, "properties")
    suite_properties = {"image": exercise.image, "score": number(exercise.points),
                        "max_score": number(exercise.max_points),
                        "verdict": exercise_verdict(result, exercise),
                        "failed_gates": " ".join(gate.rule_id for gate in exercise.failed_gates)}
    for check, file in zip(exercise.checks, files, strict=True):
        suite_properties[f"points:{testcase_name(check)}"] = number(check.points)
        suite_properties[f"max_points:{testcase_name(check)}"] = number(check.max_points)
        if file:
            suite_properties[f"file:{testcase_name(check)}"] = file
            if check.location.line:
                suite_properties[f"line:{testcase_name(check)}"] = str(check.location.line)
        if check.required:
            suite_properties[f"required:{testcase_name(check)}"] = "true"
    for name, value in suite_properties.items():
        ET.SubElement(properties, "property", name=clean_text(name), value=clean_text(value))
    for check in exercise.checks:
        suite.append(testcase(result, check))
    return suite


def testcase(result: LabResult, check: CheckResult) -> ET.Element:
    case = ET.Element(
        "testcase",
        classname=f"{result.lab}.{check.exercise}",
        name=clean_text(testcase_name(check)),
        time=seconds(check.duration_s),
    )
    if check.status is Status.FAILED:
        failure = ET.SubElement(case, "failure", message=clean_text(check.what), type=check.rule_id)
        failure.text = plain_explanation(check, DETAIL_LINES)
    elif fails(check):  # a required check skipped: a gate its exercise failed
        message = clean_text(check.gate_text())
        ET.SubElement(case, "failure", message=message, type=check.rule_id).text = (
            f"{message}\ngate: {GATE_NOTE.format(exercise=check.exercise)}"
        )
    elif check.status is Status.SKIPPED:
        ET.SubElement(case, "skipped", message=clean_text(check.what))
    elif check.status is Status.ADVICE:
        ET.SubElement(case, "system-out").text = "advice (unscored)\n" + plain_explanation(
            check, DETAIL_LINES
        )
    return case


def fails(check: CheckResult) -> bool:
    return check.status is Status.FAILED or check.failed_gate


def skips(check: CheckResult) -> bool:
    return check.status is Status.SKIPPED and not check.failed_gate


def testcase_name(check: CheckResult) -> str:
    return f"{check.rule_id} {check.title}"


def seconds(value: float) -> str:
    return f"{value:.3f}"
