"""Every report format renders the same hand-built LabResult faithfully."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rich.console import Console

from grader import reporters
from grader.reporters import github, gradescope, json_report, junit, terminal
from grader.results import CheckResult, ExerciseResult, LabResult, Location, Status

SUMMARY_LINE = re.compile(r"^(\d+) passed, (\d+) failed(?:, \d+ skipped)?$")
ANSI = re.compile(r"\x1b\[")

BUILD_LOG = "\n".join(
    [f"Step {n}/30 : RUN make part-{n}" for n in range(1, 28)]
    + ["[INFO] copying :latest artefacts", "\x1b[31mgo: cannot find main module\x1b[0m", "exit 1"]
)


def check(rule_id: str, exercise: str, status: Status, points: float, max_points: float,
          **fields) -> CheckResult:
    return CheckResult(rule_id=rule_id, title=fields.pop("title", rule_id.lower()),
                       exercise=exercise, status=status, points=points, max_points=max_points,
                       duration_s=0.25, **fields)


@pytest.fixture
def lab_result() -> LabResult:
    gallery = ExerciseResult("image-gallery", "Image gallery (Go)", "dockerlab/image-gallery", [
        check("ML4-BUILD", "image-gallery", Status.PASSED, 10, 10, title="image builds",
              what="built in 41 s"),
        check("ML4-SIZE", "image-gallery", Status.FAILED, 0, 10, title="final image ≤ 30 MB",
              what="final image is 412.3 MB, over the 30 MB budget",
              location=Location("image-gallery/Dockerfile", 12),
              fix="Copy only the binary into a final stage FROM diamol/base.",
              details=BUILD_LOG),
        check("ML4-LINT", "image-gallery", Status.ADVICE, 0, 0, title="Dockerfile lint",
              what="DL3007: using <latest> is error-prone",
              location=Location("image-gallery/Dockerfile", 1),
              fix="Pin a version tag."),
    ])
    access_log = ExerciseResult("access-log", "Access log (Node.js)", "dockerlab/access-log", [
        check("ML4-STAGES", "access-log", Status.PASSED, 10, 10, title="two stages",
              what="2 stages: builder, app"),
        check("ML4-ORDER", "access-log", Status.FAILED, 2.5, 5,
              title="package.json copied before the source",
              what="COPY . . comes before RUN npm install, so every change reinstalls",
              location=Location("access-log/Dockerfile", 4),
              fix="COPY package.json first, RUN npm install, then COPY the source."),
        check("ML4-HTTP", "access-log", Status.SKIPPED, 0, 15, title="GET /access-log answers",
              what="the container did not start"),
    ])
    return LabResult(lab="lab4", title="Multi-stage builds", submission="submissions/alice",
                     pass_mark=70, exercises=[gallery, access_log], duration_s=97.4)


def failed(result: LabResult) -> list[CheckResult]:
    return [c for c in result.checks if c.status is Status.FAILED]


# --- terminal -----------------------------------------------------------------------------


def test_terminal_explains_every_failure(lab_result):
    text = terminal.render(lab_result)
    for finding in failed(lab_result):
        assert finding.what in text
        assert str(finding.location) in text
        assert finding.fix in text
        assert f"docs/checks/{finding.rule_id}.md" in text
    assert "Score 22.5/50 (45%) — pass mark 70%: FAILED" in text


def test_terminal_ends_with_exactly_one_summary_line_matching_the_counts(lab_result):
    lines = terminal.render(lab_result).rstrip("\n").splitlines()
    summaries = [line for line in lines if SUMMARY_LINE.match(line)]
    assert summaries == [lines[-1]] == [lab_result.summary_line()]
    passed, failures = map(int, SUMMARY_LINE.match(lines[-1]).groups())
    assert (passed, failures) == (2, 2)


def test_terminal_shows_the_end_of_details_literally_and_without_escapes(lab_result):
    text = terminal.render(lab_result)
    assert "go: cannot find main module" in text
    assert "[INFO] copying :latest artefacts" in text  # not eaten as rich markup or emoji
    assert "RUN make part-1\n" not in text  # only the last lines of a long log
    assert "(last 12 of 30 lines)" in text
    assert not ANSI.search(text)


def test_terminal_shows_advice_and_skipped_with_their_reason(lab_result):
    text = terminal.render(lab_result)
    assert "advice ML4-LINT image-gallery: Dockerfile lint" in text
    assert "DL3007: using <latest> is error-prone" in text
    assert ("skipped ML4-HTTP access-log: GET /access-log answers — the container did not start"
            in text)


def test_terminal_colours_only_when_asked(lab_result):
    assert ANSI.search(terminal.render(lab_result, color=True))


def plain_console() -> Console:
    return Console(file=io.StringIO(), width=100, force_terminal=False)


def test_live_progress_prints_plain_lines_when_not_a_terminal(lab_result):
    console = plain_console()
    progress = terminal.LiveProgress(console, quiet=False)
    progress.exercise_started("image-gallery", "Image gallery (Go)")
    progress.line("Step 1/9 : FROM diamol/golang")
    progress.check_done(lab_result.exercises[0].checks[1])
    progress.close()
    assert console.file.getvalue().splitlines() == [
        "▸ image-gallery — Image gallery (Go)",
        "✘ ML4-SIZE image-gallery: final image ≤ 30 MB"
        " (final image is 412.3 MB, over the 30 MB budget)",
    ]


def test_live_progress_verbose_prints_build_lines(lab_result):
    console = plain_console()
    progress = terminal.LiveProgress(console, quiet=False, verbose=True)
    progress.line("\x1b[1mStep 1/9 : FROM diamol/golang\x1b[0m")
    assert console.file.getvalue() == "  Step 1/9 : FROM diamol/golang\n"


def test_live_progress_quiet_prints_nothing(lab_result):
    console = plain_console()
    progress = terminal.LiveProgress(console, quiet=True, verbose=True)
    progress.exercise_started("image-gallery", "Image gallery (Go)")
    progress.line("Step 1/9 : FROM diamol/golang")
    progress.check_done(lab_result.exercises[0].checks[0])
    progress.close()
    assert console.file.getvalue() == ""


def test_live_progress_on_a_terminal_keeps_build_lines_transient(lab_result):
    console = Console(file=io.StringIO(), width=100, force_terminal=True, force_interactive=True)
    with terminal.LiveProgress(console, quiet=False) as progress:
        progress.exercise_started("image-gallery", "Image gallery (Go)")
        progress.line("Step 1/9 : FROM diamol/golang")
        progress.check_done(lab_result.exercises[0].checks[0])
    output = console.file.getvalue()
    assert "ML4-BUILD image-gallery: image builds" in output
    assert progress.spinner is None


# --- JSON ---------------------------------------------------------------------------------


def test_json_round_trips_with_schema_and_score(lab_result):
    data = json.loads(json_report.render(lab_result))
    assert data == {"schema": "dockerlab-result/1", **lab_result.to_dict()}
    assert (data["score"], data["max_score"]) == (22.5, 50)
    assert data["exercises"][0]["checks"][1]["location"] == "image-gallery/Dockerfile:12"


# --- JUnit --------------------------------------------------------------------------------


def test_junit_counts_failures_and_skips(lab_result):
    root = ET.fromstring(junit.render(lab_result))
    assert root.tag == "testsuites"
    assert {k: root.get(k) for k in ("tests", "failures", "errors")} == {
        "tests": "6", "failures": "2", "errors": "0"}
    assert root.get("skipped") is None  # the Jenkins schema allows it on <testsuite> only
    for case in root.iter("testcase"):  # the schema allows a test case these alone
        assert set(case.attrib) <= {"name", "classname", "time", "assertions", "status"}
        assert case.find("properties") is None
    assert [suite.get("skipped") for suite in root.findall("testsuite")] == ["0", "1"]
    assert len(root.findall("./testsuite/testcase/failure")) == 2
    assert len(root.findall("./testsuite/testcase/skipped")) == 1
    assert [suite.get("failures") for suite in root.findall("testsuite")] == ["1", "1"]


def test_junit_failure_carries_what_where_fix_and_points(lab_result):
    root = ET.fromstring(junit.render(lab_result))
    case = root.find("./testsuite/testcase[@name='ML4-SIZE final image ≤ 30 MB']")
    assert case.get("classname") == "lab4.image-gallery"
    failure = case.find("failure")
    assert failure.get("type") == "ML4-SIZE"
    assert failure.get("message") == "final image is 412.3 MB, over the 30 MB budget"
    assert re.search(r"^where: +image-gallery/Dockerfile:12$", failure.text, re.M)
    assert re.search(r"^how to fix: +Copy only the binary", failure.text, re.M)
    assert "go: cannot find main module" in failure.text
    properties = {
        prop.get("name"): prop.get("value")
        for prop in root.iterfind("./testsuite/properties/property")
    }
    assert properties["points:ML4-ORDER package.json copied before the source"] == "2.5"
    assert properties["max_points:ML4-ORDER package.json copied before the source"] == "5"


def test_junit_advice_passes_with_system_out(lab_result):
    root = ET.fromstring(junit.render(lab_result))
    case = root.find(".//testcase[@name='ML4-LINT Dockerfile lint']")
    assert case.find("failure") is None
    assert "DL3007" in case.find("system-out").text


# --- GitHub Actions -----------------------------------------------------------------------


def test_github_escapes_messages_and_properties():
    assert github.escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert github.escape_property("a,b: 5%\n") == "a%2Cb%3A 5%25%0A"


def test_github_annotates_failures_and_advice(lab_result):
    size = lab_result.exercises[0].checks[1]
    size.what = "too big: 412 MB, 100% over\nsee below"
    size.exercise = "image,gallery"
    lines = github.render(lab_result, workspace=str(Path.cwd())).splitlines()
    assert lines[0] == (
        "::error file=submissions/alice/image-gallery/Dockerfile,line=12,"
        "title=ML4-SIZE image%2Cgallery::too big: 412 MB, 100%25 over%0Asee below"
        " — fix: Copy only the binary into a final stage FROM diamol/base."
    )
    assert lines[1].startswith("::notice file=submissions/alice/image-gallery/Dockerfile,line=1,")
    assert lines[2].startswith("::error file=submissions/alice/access-log/Dockerfile,line=4,")
    assert lines[3].startswith("::error title=lab4 verdict%3A FAILED::Verdict: FAILED")
    assert lines[-1] == lab_result.summary_line()
    assert len([line for line in lines if line.startswith("::")]) == 4


def test_github_paths_are_relative_to_the_workspace(lab_result):
    lab_result.submission = "/home/runner/work/repo/submissions/alice"
    first = github.render(lab_result, workspace="/home/runner/work/repo").splitlines()[0]
    assert first.startswith("::error file=submissions/alice/image-gallery/Dockerfile,line=12,")


def test_github_summary_markdown(lab_result):
    summary = github.summary_markdown(lab_result)
    assert "Score 22.5/50 (45%) — pass mark 70%: FAILED" in summary
    assert "| image-gallery — Image gallery (Go) | 10/20 | 1 | 1 | 0 |" in summary
    assert "DL3007: using &lt;latest&gt; is error-prone" in summary  # not swallowed as HTML
    assert "\ngo: cannot find main module\n" in summary  # details in a code block, unescaped


# --- Gradescope ---------------------------------------------------------------------------


def test_gradescope_results(lab_result):
    data = json.loads(gradescope.render(lab_result))
    assert (data["score"], data["extra_data"]["max_score"]) == (22.5, 50)
    assert "max_score" not in data  # not in Gradescope's format: its assignment sets it
    assert data["visibility"] == data["stdout_visibility"] == "visible"
    assert len(data["tests"]) == len(lab_result.checks)
    for test in data["tests"]:
        assert {"name", "score", "max_score", "output", "status"} <= test.keys()
        assert test["output"]
    assert sum(test["score"] for test in data["tests"]) == pytest.approx(data["score"])
    assert sum(test["max_score"] for test in data["tests"]) == pytest.approx(50)
    by_number = {test["number"]: test for test in data["tests"]}
    assert by_number["1.2"]["status"] == "failed"
    assert re.search(r"^where: +image-gallery/Dockerfile:12$", by_number["1.2"]["output"], re.M)
    assert by_number["1.3"]["max_score"] == 0 and by_number["1.3"]["tags"] == ["ML4-LINT"]
    assert by_number["2.3"]["output"] == "skipped: the container did not start"


# --- registry -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(reporters.FORMATS))
def test_every_format_renders_through_the_registry(lab_result, fmt):
    assert reporters.render(lab_result, fmt).strip()


def test_registry_colours_only_the_terminal_format(lab_result):
    assert ANSI.search(reporters.render(lab_result, "terminal", color=True))
    assert reporters.render(lab_result, "json", color=True) == json_report.render(lab_result)


def test_unknown_format_is_refused(lab_result):
    with pytest.raises(ValueError, match="known: terminal, json"):
        reporters.render(lab_result, "sarif")
