"""What a check may look at: one exercise of one submission, and what grading found so far."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from grader.dockerfile import Dockerfile
from grader.results import Location
from grader.sandbox import BuildOutcome, ImageFacts, Limits, Sandbox, Service
from grader.spec import ExerciseSpec, LabSpec


@dataclass
class ExerciseContext:
    lab: LabSpec
    exercise: ExerciseSpec
    submission_dir: Path
    sandbox: Sandbox
    dockerfile: Dockerfile | None = None  # None when missing or unreadable
    build: BuildOutcome | None = None
    image: ImageFacts | None = None
    services: dict[str, Service] = field(default_factory=dict)  # every exercise started so far

    @property
    def dockerfile_path(self) -> Path:
        return self.submission_dir / self.exercise.dockerfile

    @property
    def context_dir(self) -> Path:
        return self.lab.context_dir(self.exercise, self.submission_dir)

    @property
    def dockerfile_display(self) -> str:
        """The Dockerfile as the learner knows it: relative to the current folder if inside."""
        try:
            return str(self.dockerfile_path.resolve().relative_to(Path.cwd()))
        except ValueError:
            return str(self.dockerfile_path)

    @property
    def dockerfile_identity(self) -> dict[str, str]:
        """Where the Dockerfile is shown from and its exact text (comments move line numbers
        without changing the image ID)."""
        text = self.dockerfile_path.read_bytes() if self.dockerfile_path.is_file() else b""
        return {"file": self.dockerfile_display, "text": hashlib.sha256(text).hexdigest()}

    def at_line(self, line: int | None) -> Location:
        return Location(self.dockerfile_display, line)

    @property
    def final_stage(self):
        """The stage the image is built from (the build target's), when the Dockerfile parsed."""
        return self.dockerfile.final_stage(self.exercise.build.target) if self.dockerfile else None

    def at_final_from(self) -> Location:
        """The final stage's FROM line: where a finding about the whole image points."""
        final = self.final_stage
        return self.at_line(final.from_line if final else None)

    @property
    def service(self) -> Service | None:
        return self.services.get(self.exercise.id)

    @property
    def limits(self) -> Limits:
        spec = self.lab.limits
        return Limits(memory_mb=spec.memory_mb, pids=spec.pids, cpus=spec.cpus)
