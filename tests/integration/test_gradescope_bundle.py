"""The Gradescope bundle's `run_autograder`, run here against a folder laid out as
Gradescope lays it out (/autograder/source, submission, results): it writes results.json
with the score `dockerlab grade` gives the same submission (issue 11)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from grader.ci import write_gradescope

from .conftest import REPO, TAG_PREFIX

pytestmark = pytest.mark.engine
DOCKERLAB = Path(sys.executable).parent / "dockerlab"


def gradescope_folder(tmp_path: Path, lab4, docker_host: str) -> Path:
    """ROOT/source (the unpacked bundle), ROOT/submission (a learner's repository, as
    Gradescope's GitHub upload gives it) and ROOT/results."""
    root = tmp_path / "autograder"
    bundle, _ = write_gradescope(lab4, tmp_path / "bundle", docker_host)
    shutil.copytree(bundle, root / "source")
    shutil.copytree(lab4.solution_dir, root / "submission" / "labs" / "lab4")
    (root / "results").mkdir()
    return root


def run_autograder(root: Path, **environment: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(root / "source" / "run_autograder")],
        env={**os.environ, "AUTOGRADER_ROOT": str(root), "DOCKERLAB": str(DOCKERLAB),
             # the grader's tags apart from a learner's, as in every engine test
             "DOCKERLAB_TAG_PREFIX": TAG_PREFIX, **environment},
        capture_output=True, text=True, timeout=900,
    )


def test_run_autograder_scores_as_dockerlab_grade(tmp_path, lab4, leaves_nothing_behind):
    root = gradescope_folder(tmp_path, lab4, "unix:///var/run/docker.sock")
    done = run_autograder(root)
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    schema = REPO / "tests" / "fixtures" / "schemas" / "gradescope-results.schema.json"
    jsonschema.validate(results, json.loads(schema.read_text()))

    alone = tmp_path / "alone.json"
    graded = subprocess.run(
        [str(DOCKERLAB), "grade", "lab4", "--path", str(root / "submission" / "labs" / "lab4"),
         "--quiet", "--instructor", "--tag-prefix", TAG_PREFIX, "--report", f"json:{alone}"],
        cwd=REPO, capture_output=True, text=True, timeout=900)
    assert graded.returncode == 0, graded.stderr
    assert results["score"] == json.loads(alone.read_text())["score"]
    assert len(results["tests"]) == sum(len(exercise["checks"]) for exercise in
                                        json.loads(alone.read_text())["exercises"])
