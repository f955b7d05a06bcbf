"""Layer blame on the real engine: ML4-TOOLS names the instruction and line (or the base
image) that put the tool in the final image; ML4-SIZE lists the heaviest layers with their
lines, the base image as one row, the budget and the reference solution's size."""

import re

import pytest

from grader.results import Status

from .conftest import SUBMISSIONS, TAG_PREFIX, by_rule

pytestmark = pytest.mark.engine

# The run's tag prefix comes first: the session fixture removes the tests' images by it.
REFERENCE_TAG = TAG_PREFIX + "dockerlab-reference/lab4-lab"


def megabytes(text: str, pattern: str) -> float:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in:\n{text}"
    return float(found.group(1))


def test_the_whole_builder_copy_names_its_copy_line_and_its_megabytes(grade_submission,
                                                                      docker_client,
                                                                      monkeypatch, tmp_path):
    # No remembered outcome: ML4-SIZE must fulfil its reference need, which tags the image.
    monkeypatch.setenv("DOCKERLAB_CACHE", str(tmp_path))
    (lab,) = grade_submission(SUBMISSIONS / "blame-whole-builder", "lab").exercises

    tools = by_rule(lab, "ML4-TOOLS")
    assert tools.status is Status.FAILED and tools.location.line == 8
    assert tools.what.startswith("`COPY --from=build / /` at line 8 brought `go` (/usr/bin/go")
    assert megabytes(tools.what, r"into the final image, in a layer of (\d+\.\d) MB\.$") > 400
    assert "change line 8" in tools.fix

    size = by_rule(lab, "ML4-SIZE")
    assert size.status is Status.FAILED and size.location.line == 8
    assert "Heaviest: `COPY --from=build / /` at line 8, " in size.what
    heaviest, base, *_, total = size.details.splitlines()
    assert re.fullmatch(r"\s+\d{3}\.\d MB  line 8    `COPY --from=build / /`", heaviest)
    assert re.fullmatch(r"\s+\d\.\d MB  line 7    diamol/base, the base image \(2 layers\)", base)
    assert "in all; budget 30 MB; reference solution" in total
    reference_mb = megabytes(size.what, r"the reference solution's is (\d+\.\d) MB")
    assert reference_mb < 30
    # The reference image is kept, tagged and labelled like a learner's (no owner label: not
    # the session's), so the next grading builds it from cache.
    kept = docker_client.images.get(REFERENCE_TAG)
    assert kept.attrs["Size"] / 1_000_000 == pytest.approx(reference_mb, abs=0.05)
    assert kept.labels.get("dockerlab.lab") == "lab4" and "dockerlab.owner" not in kept.labels


def test_a_single_stage_file_names_the_base_image_as_the_source_of_go(grade_submission):
    (lab,) = grade_submission(SUBMISSIONS / "blame-single-stage", "lab").exercises

    tools = by_rule(lab, "ML4-TOOLS")
    assert tools.status is Status.FAILED and tools.location.line == 2
    assert tools.what.startswith("diamol/golang, your final `FROM` at line 2, contains `go` (")
    assert "`FROM diamol/golang AS builder`" in tools.fix
    # The learner's own lower-case steps are not blamed for the SDK's files.
    assert "run go build" not in tools.what

    size = by_rule(lab, "ML4-SIZE")
    assert size.location.line == 2
    first, second = size.details.splitlines()[:2]
    assert re.fullmatch(r"\s+\d{3}\.\d MB  line 2    diamol/golang, the base image \(\d layers\)",
                        first)
    assert second.endswith("line 6    `run go build -o server .`")


def test_a_scratch_final_with_a_tool_copied_in_names_that_copy(grade_submission):
    (lab,) = grade_submission(SUBMISSIONS / "blame-scratch-tool", "lab").exercises

    tools = by_rule(lab, "ML4-TOOLS")
    assert tools.status is Status.FAILED and tools.location.line == 11
    assert tools.what.startswith("`COPY --from=0 /usr/bin/go /usr/local/bin/go` at line 11 "
                                 "brought `go` (/usr/local/bin/go) into the final image")
    # Nothing else of the SDK came along: the image is still within the budget.
    assert by_rule(lab, "ML4-SIZE").status is Status.PASSED


def test_stages_built_from_stages_blame_their_own_lines(grade_submission):
    (lab,) = grade_submission(SUBMISSIONS / "blame-stage-chain", "lab").exercises

    tools = by_rule(lab, "ML4-TOOLS")
    assert tools.status is Status.FAILED and tools.location.line == 9
    assert tools.what.startswith("diamol/golang, the base of stage `sdk` (line 2) that your "
                                 "final `FROM` at line 9 builds on, contains `go`")
    assert "built FROM stage `compiled`" in tools.fix

    size = by_rule(lab, "ML4-SIZE")
    assert ("line 7    `RUN CGO_ENABLED=0 go build -o /src/server .` (stage `compiled`, which "
            "your final stage builds on)") in size.details


def test_the_reference_solution_is_its_own_reference(grade_submission, lab4):
    (lab,) = grade_submission(lab4.solution_dir, "lab").exercises
    size = by_rule(lab, "ML4-SIZE")
    assert size.status is Status.PASSED
    assert size.what.endswith("(budget 30 MB, this is the reference solution).")
