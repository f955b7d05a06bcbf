"""What checks ask for and read: needs, the facts that fulfil them, and why one is missing.

A check declares `needs()`: hashable `Need` values, each provided by one step module. The
job fulfils every need once per exercise (a need's own prerequisites first); a need that
cannot be had raises `Unavailable` with the reason the learner sees on every check that
needed it ("not checked: the image did not build (ML4-BUILD)"). Checks then read the
fulfilled values from `Facts` and never call the engine themselves.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from grader.dockerfile import Dockerfile, Stage, line_of_step
from grader.results import Location

if TYPE_CHECKING:
    from grader.pipeline.job import ExerciseJob
    from grader.spec import ExerciseSpec, LabSpec


class Phase(IntEnum):
    """When a need is fulfilled; a check runs in the phase of its latest need."""

    STATIC = 10  # reads the Dockerfile only
    BUILD = 20
    IMAGE = 30  # needs the built image
    CACHE = 40  # rebuilds a changed copy of the context
    RUN = 50  # needs the running container(s)


class Unavailable(Exception):
    """A need cannot be fulfilled; `reason` is shown on each check that needed it."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Need:
    """A fact a check needs. Subclasses are frozen dataclasses (hashable: one fulfilment per
    distinct need and exercise), defined in the step module that provides them."""

    phase: ClassVar[Phase]
    # Costly to fulfil, and determined by the image and the Dockerfile's text alone: a
    # check that needs one is remembered by image ID (grader/memo.py).
    costly: ClassVar[bool] = False

    def requires(self, job: ExerciseJob) -> tuple[Need, ...]:
        """Needs fulfilled before this one; when one is unavailable, so is this one."""
        return ()

    def provide(self, job: ExerciseJob) -> Any:
        raise NotImplementedError

    def remembered_by(self, job: ExerciseJob) -> str:
        """For a costly need: what its value depends on besides the image and the Dockerfile
        (e.g. the hash of another Dockerfile it builds); part of the remembered outcome's key."""
        return ""

    def evidence(self, value: Any) -> dict[str, str]:
        """What `value` says in a log a lab's hints search: {"build" | "container": text}."""
        return {}


@dataclass(frozen=True)
class DockerfileFacts:
    """The learner's Dockerfile, read and parsed once per exercise."""

    path: Path
    display: str  # as the learner knows it: relative to the current folder if inside
    text: str | None  # None: there is no such file
    sha256: str
    parsed: Dockerfile | None = None
    parse_error: str = ""  # why `parsed` is None although the file exists
    ignore_patterns: tuple[str, ...] = ()  # the .dockerignore that applies to its build
    refused: str = ""  # why the grader would not read it (or its .dockerignore); text is None
    refused_fix: str = ""

    @property
    def exists(self) -> bool:
        return self.text is not None

    @staticmethod
    def digest(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    def line_of_step(self, number: int, printed: str) -> int | None:
        """The line of a build step the builder printed, when the Dockerfile parsed."""
        return line_of_step(self.parsed, number, printed) if self.parsed else None


class Facts:
    """What a check may read about one exercise: the spec, the Dockerfile, and each
    fulfilled need (`facts[need]`)."""

    def __init__(self, lab: LabSpec, exercise: ExerciseSpec, submission_dir: Path,
                 dockerfile: DockerfileFacts, values: dict[Need, Any]):
        self.lab = lab
        self.exercise = exercise
        self.submission_dir = submission_dir
        self.dockerfile = dockerfile
        self._values = values

    def __getitem__(self, need: Need) -> Any:
        return self._values[need]

    @property
    def context_dir(self) -> Path:
        return self.lab.context_dir(self.exercise, self.submission_dir)

    @property
    def dockerfile_display(self) -> str:
        return self.dockerfile.display

    def at_line(self, line: int | None) -> Location:
        return Location(self.dockerfile.display, line)

    @property
    def final_stage(self) -> Stage | None:
        """The stage the image is built from (the build target's), when the Dockerfile parsed."""
        parsed = self.dockerfile.parsed
        return parsed.final_stage(self.exercise.build.target) if parsed else None

    def at_final_from(self) -> Location:
        """The final stage's FROM line: where a finding about the whole image points."""
        final = self.final_stage
        return self.at_line(final.from_line if final else None)

    def step_location(self, step) -> Location:
        """Where a build step the builder printed stands in the learner's file."""
        line = self.dockerfile.line_of_step(step.number, step.instruction) if step else None
        return self.at_line(line)
