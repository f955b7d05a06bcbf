"""JUnit XML in the Jenkins/Ant dialect that Jenkins, GitLab and GitHub test reporters read.

One <testsuite> per exercise, one <testcase> per check. That dialect allows no <properties>
inside a <testcase>, so each check's points sit in its suite's <properties> instead,
keyed by the testcase name.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from grader.reporters.formatting import clean_text, number, plain_explanation
from grader.results import CheckResult, ExerciseResult, LabResult, Status

DETAIL_LINES = 60  # CI pages show long failure texts well; a whole build log would swamp them


def render(result: LabResult) -> str:
    checks = result.checks
    root = ET.Element(
        "testsuites",
        name=f"{result.lab} — {result.title}",
        tests=str(len(checks)),
        failures=str(result.count(Status.FAILED)),
        errors="0",  # grader problems abort grading (exit code 2); they never reach a report
        skipped=str(result.count(Status.SKIPPED)),
        time=seconds(result.duration_s),
    )
    for exercise in result.exercises:
        root.append(testsuite(result, exercise))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def testsuite(result: LabResult, exercise: ExerciseResult) -> ET.Element:
    suite = ET.Element(
        "testsuite",
        name=f"{result.lab}.{exercise.id}",
        tests=str(len(exercise.checks)),
        failures=str(sum(check.status is Status.FAILED for check in exercise.checks)),
        errors="0",
        skipped=str(sum(check.status is Status.SKIPPED for check in exercise.checks)),
        time=seconds(sum(check.duration_s for check in exercise.checks)),
    )
    properties = ET.SubElement(suite, "properties")
    suite_properties = {"image": exercise.image, "score": number(exercise.points),
                        "max_score": number(exercise.max_points)}
    for check in exercise.checks:
        suite_properties[f"points:{testcase_name(check)}"] = number(check.points)
        suite_properties[f"max_points:{testcase_name(check)}"] = number(check.max_points)
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
    elif check.status is Status.SKIPPED:
        ET.SubElement(case, "skipped", message=clean_text(check.what))
    elif check.status is Status.ADVICE:
        ET.SubElement(case, "system-out").text = "advice (unscored)\n" + plain_explanation(
            check, DETAIL_LINES
        )
    return case


def testcase_name(check: CheckResult) -> str:
    return f"{check.rule_id} {check.title}"


def seconds(value: float) -> str:
    return f"{value:.3f}"
