"""`dockerlab release lab4`: the learner's repository holds no solution (by content) and no
hidden check, and in a fresh clone of it `make grade lab4` grades the starters below the
pass mark (issue 12)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.spec import load_lab

from .conftest import REPO, TAG_PREFIX

pytestmark = pytest.mark.engine
VENV_SITE = Path(sys.executable).parents[1] / "lib"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(command: list[str], cwd: Path, **options) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900,
                          **options)


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release") / "lab4-learner"
    done = run([sys.executable, "-m", "grader", "release", "lab4", str(out)], REPO)
    assert done.returncode == 0, done.stderr
    return out


def test_the_release_holds_no_solution_and_no_hidden_check(released, lab4):
    solutions = {digest(path) for path in lab4.solution_dir.rglob("*") if path.is_file()}
    assert len(solutions) == 5
    shipped = [path for path in released.rglob("*")
               if path.is_file() and ".git" not in path.relative_to(released).parts]
    assert len(shipped) > 100
    assert [path for path in shipped if digest(path) in solutions] == []
    assert not (released / "labs" / "lab4" / "solution").exists()
    # lab4 has a hidden check: the instructors' spec has it, the learners' has not.
    assert any(check.hidden for exercise in lab4.exercises for check in exercise.all_checks())
    learners = load_lab(released / "labs" / "lab4" / "lab.yml")
    assert not any(check.hidden for exercise in learners.exercises
                   for check in exercise.all_checks())
    assert (released / ".github" / "workflows" / "dockerlab.yml").is_file()
    log = run(["git", "log", "--oneline"], released).stdout.splitlines()
    assert len(log) == 1 and run(["git", "status", "--porcelain"], released).stdout == ""


def test_make_grade_works_in_a_fresh_clone_and_grades_the_starters_below_the_pass_mark(
        released, tmp_path, leaves_nothing_behind):
    clone = tmp_path / "clone"
    assert run(["git", "clone", "--quiet", str(released), str(clone)], tmp_path).returncode == 0
    # The clone's own venv as `make venv` leaves it, built without PyPI (tests send it
    # nothing): this venv's packages beside it for the dependencies, the clone's own grader
    # first on the path, and the `dockerlab` command.
    assert run([sys.executable, "-m", "venv", "--without-pip", ".venv"], clone).returncode == 0
    (site,) = (clone / ".venv" / "lib").glob("python*/site-packages")
    (ours,) = VENV_SITE.glob("python*/site-packages")
    (site / "a-release-under-test.pth").write_text(f"{clone}\n{ours}\n")
    command = clone / ".venv" / "bin" / "dockerlab"
    command.write_text(f"#!{clone / '.venv' / 'bin' / 'python'}\n"
                       "import sys\nfrom grader.cli import main\nsys.exit(main())\n")
    command.chmod(0o755)
    (clone / ".venv" / ".installed").touch()  # make's stamp: the venv is ready
    which = run([str(clone / ".venv" / "bin" / "python"), "-c",
                 "import grader; print(grader.__file__)"], clone)
    assert which.stdout.strip() == str(clone / "grader" / "__init__.py")  # the release's own

    result = tmp_path / "result.json"
    graded = run(["make", "grade", "lab4", f"ARGS=--quiet --report json:{result}"], clone,
                 env={**os.environ, "DOCKERLAB_TAG_PREFIX": TAG_PREFIX})
    assert graded.returncode == 2  # make's code for a failed recipe…
    assert "dockerlab grade exited 1" in graded.stderr  # …which names the grader's own
    report = json.loads(result.read_text())
    assert report["percent"] < report["pass_mark"] and not report["passed"]
    assert report["submission"] == str(clone / "labs" / "lab4")
