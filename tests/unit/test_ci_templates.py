"""`dockerlab ci`: the GitHub workflow and the GitLab job validate against the schemas the
CI services publish (SchemaStore's, as check-jsonschema ships them), run the grader
itself (its exit code, not make's), and the Gradescope bundle holds what Gradescope runs."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from grader.ci import write_github, write_gitlab, write_gradescope
from grader.spec import load_lab

REPO = Path(__file__).resolve().parents[2]
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


@pytest.fixture(scope="module")
def lab4():
    return load_lab(REPO / "labs" / "lab4" / "lab.yml")


def validate(path: Path, schema: str) -> None:
    done = subprocess.run([str(CHECK_JSONSCHEMA), "--builtin-schema", schema, str(path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_github_workflow_is_valid_and_grades_with_annotations(tmp_path: Path, lab4):
    (workflow,) = write_github(lab4, tmp_path)
    assert workflow == tmp_path / ".github" / "workflows" / "dockerlab.yml"
    validate(workflow, "vendor.github-workflows")
    steps = YAML(typ="safe").load(workflow.read_text())["jobs"]["grade"]["steps"]
    runs = " ".join(step.get("run", "") for step in steps)
    assert "dockerlab grade lab4 --format github" in runs
    assert "--report junit:dockerlab-junit.xml" in runs
    assert "make " not in runs  # the job's result is the grader's own exit code
    uploads = [step for step in steps if step.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads and uploads[0]["if"] == "always()"


def test_the_gitlab_job_is_valid_and_reports_junit(tmp_path: Path, lab4):
    (job_file,) = write_gitlab(lab4, tmp_path)
    validate(job_file, "vendor.gitlab-ci")
    job = YAML(typ="safe").load(job_file.read_text())["dockerlab"]
    assert job["artifacts"]["reports"]["junit"] == "dockerlab-junit.xml"
    assert job["variables"]["DOCKER_TLS_VERIFY"] == "1"  # the dind service over TLS
    assert any("dockerlab grade lab4" in line for line in job["script"])


def test_the_gradescope_bundle_has_what_gradescope_runs(tmp_path: Path, lab4):
    bundle, archive = write_gradescope(lab4, tmp_path, "tcp://127.0.0.1:2376")
    with zipfile.ZipFile(archive) as zipped:
        names = set(zipped.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in zipped.infolist()}
    for script in ("setup.sh", "run_autograder"):
        assert script in names and modes[script] & stat.S_IXUSR  # at the root, executable
        done = subprocess.run(["bash", "-n", str(bundle / script)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr  # valid shell
    assert {"engine.env", "dockerlab/pyproject.toml", "dockerlab/grader/__init__.py",
            "dockerlab/labs/lab4/lab.yml", "dockerlab/apps/greeter/main.go"} <= names
    assert not any("__pycache__" in name for name in names)
    assert "DOCKER_HOST=tcp://127.0.0.1:2376" in (bundle / "engine.env").read_text()
    assert os.access(bundle / "run_autograder", os.X_OK)
