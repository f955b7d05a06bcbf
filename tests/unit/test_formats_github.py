"""GitHub annotations name files GitHub can open: each path, taken from the repository root
(GITHUB_WORKSPACE, else the git top-level), is an existing Dockerfile whose named line is the
one the finding is about — run from the repository root, with --path to a learner's
repository elsewhere, from an unrelated folder, and from inside the submission.

`dockerlab grade` runs as a person or CI calls it, on the fake engine (no Docker)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader import cli
from tests.fake_engine import (
    GO_TWO_STAGES,
    Build,
    FakeEngine,
    Recorded,
    exercise,
    write_files,
    write_lab,
)

ANNOTATION = re.compile(r"^::(error|notice) (?P<properties>[^:]*)::(?P<message>.*)$")
LEARNER_FILES = {"app/Dockerfile": GO_TWO_STAGES, "app/main.go": "package main\n",
                 "api/Dockerfile": GO_TWO_STAGES, "api/main.go": "package main\n"}
# What each finding is about, by its rule: the line the annotation must land on.
EXPECTED_LINES = {
    "ML4-USER app": "FROM diamol/base:2e",  # runs as root: the final stage's FROM
    "ML4-BUILD api": "RUN go build -o /server",  # the failing build step
}


@dataclass
class Course:
    """A course repository (the lab, learners' folders) and a learner's own repository."""

    repo: Path
    lab_yml: Path
    alice: Path  # a learner's folder inside the course repository
    learner_repo: Path  # a learner's own repository elsewhere, as GitHub Classroom makes one


def git_repository(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if shutil.which("git"):
        subprocess.run(["git", "init", "-q", str(folder)], check=True)
    else:
        (folder / ".git").mkdir()
    return folder


def make_course(tmp_path: Path, **lab_keys) -> Course:
    repo = git_repository(tmp_path / "course")
    lab_dir = repo / "labs" / "lab4"
    lab_dir.mkdir(parents=True)
    write_lab(
        lab_dir,
        exercise("app", checks=[{"kind": "non-root-user", "points": 2}]),
        exercise("api", checks=[{"kind": "non-root-user", "points": 2, "required": True},
                                {"kind": "size", "max_mb": 30, "points": 1}]),
        **lab_keys,
    )
    alice = repo / "submissions" / "alice"
    write_files(alice, LEARNER_FILES)
    learner_repo = git_repository(tmp_path / "alice-lab4")
    write_files(learner_repo, LEARNER_FILES)
    return Course(repo, lab_dir / "lab.yml", alice, learner_repo)


@pytest.fixture
def course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Course:
    for name in ("GITHUB_WORKSPACE", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKERLAB_CACHE", str(tmp_path / "cache"))
    return make_course(tmp_path)


def failing_engine() -> FakeEngine:
    """`app` builds and runs as root; `api` fails at its RUN step."""
    return FakeEngine({"api": Recorded(build=Build(fails_at="RUN go build",
                                                   error="returned a non-zero code: 1"))})


def use_engine(monkeypatch: pytest.MonkeyPatch, engine: FakeEngine) -> None:
    """`dockerlab grade` gets the fake engine; base images count as present."""
    monkeypatch.setattr("grader.infra.engine.ensure_engine", lambda **_options: engine)
    monkeypatch.setattr("grader.infra.baseimages.ensure_base_images",
                        lambda *_args, **_options: None)


def dockerlab(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    """`dockerlab ARGS` in this process: its exit code and standard output."""
    capsys.readouterr()
    code = cli.main([*args, "--quiet"])
    return code, capsys.readouterr().out


def unescape(value: str) -> str:
    return value.replace("%2C", ",").replace("%3A", ":").replace("%0A", "\n") \
        .replace("%0D", "\r").replace("%25", "%")


def annotations(output: str) -> dict[str, tuple[str, int]]:
    """Each annotation's title → (file, line), as GitHub reads the workflow commands."""
    found = {}
    for line in output.splitlines():
        match = ANNOTATION.match(line)
        if not match:
            continue
        properties = dict(item.split("=", 1) for item in match["properties"].split(","))
        if "file" in properties:
            title = unescape(properties["title"]).removesuffix(" (required)")
            found[title] = (unescape(properties["file"]), int(properties["line"]))
    return found


def assert_lands_on_the_lines(output: str, root: Path, folder: str) -> None:
    """Every finding's annotation names a file that exists under `root`, the path GitHub
    resolves, and the line it names is the line the finding is about."""
    found = annotations(output)
    assert set(found) == set(EXPECTED_LINES), output
    for title, (file, line) in found.items():
        assert not os.path.isabs(file) and not file.startswith(".."), file
        assert file == f"{folder}{title.split()[1]}/Dockerfile".lstrip("/")
        path = root / file
        assert path.is_file(), f"{title}: {file} does not exist under {root}"
        assert path.read_text().splitlines()[line - 1] == EXPECTED_LINES[title]


def test_run_from_the_repository_root(course, capsys, monkeypatch):
    use_engine(monkeypatch, failing_engine())
    monkeypatch.chdir(course.repo)
    code, output = dockerlab(capsys, "grade", "lab4", "--path", "submissions/alice",
                             "--format", "github")
    assert code == 1
    assert_lands_on_the_lines(output, course.repo, "submissions/alice/")
    assert "submissions/alice/submissions/alice" not in output  # the doubled folder


def test_path_to_a_learner_repository_elsewhere_in_the_workspace(course, capsys, monkeypatch):
    """GitHub Classroom: the learner's repository is the workspace; the grader runs from its
    own checkout, given the learner's folder with --path."""
    use_engine(monkeypatch, failing_engine())
    monkeypatch.setenv("GITHUB_WORKSPACE", str(course.learner_repo))
    monkeypatch.chdir(course.repo)
    code, output = dockerlab(capsys, "grade", "lab4", "--path", str(course.learner_repo),
                             "--format", "github")
    assert code == 1
    assert_lands_on_the_lines(output, course.learner_repo, "")


def test_run_from_an_unrelated_folder(course, capsys, monkeypatch, tmp_path):
    """No GITHUB_WORKSPACE: paths count from the submission's git top-level."""
    use_engine(monkeypatch, failing_engine())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, output = dockerlab(capsys, "grade", str(course.lab_yml), "--path", str(course.alice),
                             "--format", "github")
    assert code == 1
    assert_lands_on_the_lines(output, course.repo, "submissions/alice/")


def test_run_from_inside_the_submission(course, capsys, monkeypatch):
    """The learner's terminal names the file `Dockerfile`; GitHub still gets the full path."""
    use_engine(monkeypatch, failing_engine())
    monkeypatch.chdir(course.alice / "app")
    code, output = dockerlab(capsys, "grade", str(course.lab_yml), "--path", "..",
                             "--format", "github")
    assert code == 1
    assert_lands_on_the_lines(output, course.repo, "submissions/alice/")
