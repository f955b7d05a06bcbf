"""The declarative lab spec (`labs/<lab>/lab.yml`), validated before any Docker call.

Every error names the file, the line and the field, e.g.
`labs/lab4/lab.yml:42: exercises[2].checks[1].max_mb: must be greater than 0`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from grader.checks import KINDS, Check, all_check_classes
from grader.errors import SpecError
from grader.results import TOTAL_SCORE, VerdictPolicy

SLUG = r"^[a-z0-9][a-z0-9-]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BuildSpec(Strict):
    points: float = Field(10, ge=0, description="Points for an image that builds.")
    timeout_s: float = Field(
        300, gt=0,
        description="Longest a build may take, from packing its context to its last step; "
        "then it is stopped, a step with no container (a download, a pull) too, and "
        "ML4-BUILD names it.",
    )
    memory_mb: int = Field(
        2048, gt=0,
        description="Memory limit of each build step's container, swap included; a step "
        "beyond it is stopped (ML4-BUILD names it). A JVM in a step sizes its heap from it.",
    )
    pids: int = Field(
        1024, gt=0,
        description="Processes and threads the build's steps may run at once. Set where the "
        "grader can make cgroups for the engine (an engine on the same machine, cgroup v1, "
        "cgroupfs driver, the grader as root); elsewhere build steps have no process limit "
        "and ML4-BUILD says so.",
    )
    context_mb: int = Field(
        512, gt=0,
        description="Largest total size of the build context's files (after .dockerignore), "
        "checked before anything is sent.",
    )
    context_files: int = Field(
        50_000, gt=0,
        description="Most files, folders and links in the build context (after "
        ".dockerignore), checked before anything is sent.",
    )
    build_args: dict[str, str] = Field(default_factory=dict, description="--build-arg values.")
    target: str | None = Field(None, description="Stage to build, when not the last one.")
    required: bool = Field(
        False, description="A gate: the exercise fails unless the image builds (ML4-BUILD)."
    )


class ReadySpec(Strict):
    path: str | None = Field(
        None, description="HTTP path that answers below 500 once the app is up; None: just running."
    )
    port: int = Field(80, gt=0, lt=65536, description="Container port the ready probe calls.")
    timeout_s: float = Field(60, gt=0, description="Longest wait for readiness.")


class RunSpec(Strict):
    name: str = Field(description="Network alias other containers use (the chapter's --name).")
    aliases: list[str] = Field(default_factory=list, description="More network aliases.")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment variables.")
    ports: dict[int, int] = Field(
        default_factory=dict,
        description="Container port -> the chapter's host port (`-p 800:80`), which the fix "
        "text's `docker run` shows. The grader publishes each container port on a free port of "
        "the engine's host that the engine picks (127.0.0.1 for a local engine, the address "
        "DOCKER_HOST names for a remote one), so gradings side by side never clash.",
    )
    ready: ReadySpec = Field(default_factory=ReadySpec, description="When it counts as up.")
    points: float = Field(10, ge=0, description="Points for a container that starts and stays up.")
    required: bool = Field(
        False, description="A gate: the exercise fails unless the container starts and answers "
        "(ML4-RUN)."
    )
    depends_on: list[str] = Field(
        default_factory=list,
        description="Exercises whose containers must run first; each is listed earlier in the "
        "lab and has a `run` of its own. Grading one exercise starts these too.",
    )

    @field_validator("ports")
    @classmethod
    def ports_in_range(cls, ports: dict[int, int]) -> dict[int, int]:
        for inside, outside in ports.items():
            if not (0 < inside < 65536 and 0 < outside < 65536):
                raise ValueError(f"port {inside}: {outside} is not a TCP port pair")
        return ports


class HintSpec(Strict):
    """A known trap: a pattern on a log and the advice to give when a failing check's
    evidence matches it. The advice then leads that failure's "how to fix"."""

    id: str = Field(pattern=SLUG, description="Stable name, shown with the advice.")
    log: Literal["build", "container"] = Field(
        description="Where to look: the build's output, or what the container said (its log, "
        "the engine's refusal to start it, a command's output)."
    )
    pattern: str = Field(description="Regular expression (Python syntax) searched in that log.")
    advice: str = Field(description="The likely cause and what to do, in a sentence or two.")

    @field_validator("pattern")
    @classmethod
    def compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValueError(f"not a regular expression: {error}") from None
        return pattern


def check_union() -> Any:
    classes = tuple(all_check_classes())
    return Annotated[Union[classes], Field(discriminator="kind")]  # noqa: UP007


CheckSpec = check_union()


class ExerciseSpec(Strict):
    id: str = Field(pattern=SLUG, description="Folder name of the exercise and its stable id.")
    title: str = Field(description="Shown in reports.")
    dockerfile: str = Field(description="Dockerfile path, relative to the submission folder.")
    context: str | None = Field(
        None,
        description="Build context, relative to the lab folder; default: the Dockerfile's folder.",
    )
    image: str = Field(description="Tag given to the learner's image.")
    build: BuildSpec = Field(default_factory=BuildSpec, description="The build (ML4-BUILD).")
    run: RunSpec | None = Field(None, description="Run the image on the lab network (ML4-RUN).")
    deadline_s: float = Field(
        900, gt=0,
        description="Longest the whole exercise may take, from its start to its last check: "
        "build, run and checks. Past it, no step starts and the checks still to judge are "
        "skipped, naming it; a build or a wait underway ends at it.",
    )
    checks: list[CheckSpec] = Field(default_factory=list, description="Checks, below.")  # type: ignore[valid-type]
    hints: list[HintSpec] = Field(
        default_factory=list, description="Hints for this exercise, tried before the lab's."
    )

    def all_checks(self) -> list[Check]:
        """The checks of this exercise: ML4-BUILD and (with a `run:`) ML4-RUN, which its
        `build:` and `run:` keys configure, then its `checks:` list."""
        from grader.checks.build import BuildCheck
        from grader.checks.run import RunCheck

        implicit: list[Check] = [BuildCheck(points=self.build.points,
                                            required=self.build.required)]
        if self.run is not None:
            implicit.append(RunCheck(points=self.run.points, required=self.run.required))
        return implicit + list(self.checks)

    @model_validator(mode="after")
    def called_ports_are_published(self) -> ExerciseSpec:
        # The grader reaches a container only through a published port (on 127.0.0.1 for a
        # local engine, on the engine's own address for a remote one).
        published = set(self.run.ports) if self.run else set()
        called = [self.run.ready.port] if self.run and self.run.ready.path else []
        called += [port for check in self.checks for port in check.called_ports()]
        for port in called:
            if port not in published:
                raise ValueError(
                    f"exercise '{self.id}' calls container port {port}, which `run.ports` does not publish"
                )
        return self


class LimitsSpec(Strict):
    memory_mb: int = Field(512, gt=0, description="Memory limit of every learner container.")
    pids: int = Field(256, gt=0, description="Process limit of every learner container.")
    cpus: float = Field(1.0, gt=0, description="CPU limit of every learner container.")


class LabSpec(Strict):
    version: Literal[1] = Field(description="Spec format version.")
    id: str = Field(pattern=SLUG, description="Lab name, as in `dockerlab grade <id>`.")
    title: str = Field(description="Shown at the top of every report.")
    pass_mark: float = Field(
        ge=0, le=100, description="Percent needed to pass: of the total, and (with "
        "`verdict: every-exercise`) of each exercise's points."
    )
    verdict: VerdictPolicy = Field(
        TOTAL_SCORE,
        description="How the lab's verdict is reached. `total-score`: the total reaches the "
        "pass mark and no required check failed. `every-exercise`: every exercise passes its "
        "required checks and reaches the pass mark. See docs/reference/verdict.md.",
    )
    network: str = Field("nat", description="Docker network the containers share.")
    limits: LimitsSpec = Field(default_factory=LimitsSpec, description="Resource limits (below).")
    solution: str = Field("solution", description="Reference solutions, relative to the lab folder.")
    hints: list[HintSpec] = Field(
        default_factory=list, description="Hints for every exercise (see `hints:` below)."
    )
    exercises: list[ExerciseSpec] = Field(
        min_length=1, description="Graded in this order; a service must come before its callers."
    )

    _source: Path = PrivateAttr()

    @field_validator("exercises")
    @classmethod
    def unique_ids(cls, exercises: list[ExerciseSpec]) -> list[ExerciseSpec]:
        seen: set[str] = set()
        for exercise in exercises:
            if exercise.id in seen:
                raise ValueError(f"exercise id '{exercise.id}' is used twice")
            seen.add(exercise.id)
        known = {exercise.id for exercise in exercises}
        started: set[str] = set()  # containers start in the lab's order
        for exercise in exercises:
            for needed in exercise.run.depends_on if exercise.run else []:
                if needed not in known:
                    raise ValueError(f"exercise '{exercise.id}' depends on unknown '{needed}'")
                if needed not in started:
                    raise ValueError(
                        f"exercise '{exercise.id}' depends on '{needed}', which is not "
                        f"started before it: list '{needed}' earlier, and give it a `run`"
                    )
            if exercise.run:
                started.add(exercise.id)
        return exercises

    @property
    def source(self) -> Path:
        return self._source

    @property
    def lab_dir(self) -> Path:
        return self._source.parent

    @property
    def solution_dir(self) -> Path:
        return self.lab_dir / self.solution

    @model_validator(mode="after")
    def hint_ids_are_unique(self) -> LabSpec:
        for exercise in self.exercises:
            ids = [hint.id for hint in self.hints_for(exercise)]
            repeated = sorted({name for name in ids if ids.count(name) > 1})
            if repeated:
                raise ValueError(f"hint id '{repeated[0]}' is used twice for '{exercise.id}'")
        return self

    def hints_for(self, exercise: ExerciseSpec) -> list[HintSpec]:
        """The exercise's own hints first, then the lab's."""
        return [*exercise.hints, *self.hints]

    def exercise(self, exercise_id: str) -> ExerciseSpec:
        for exercise in self.exercises:
            if exercise.id == exercise_id:
                return exercise
        known = ", ".join(exercise.id for exercise in self.exercises)
        raise SpecError(f"{self.id} has no exercise '{exercise_id}'.", hint=f"Exercises: {known}.")

    def context_dir(self, exercise: ExerciseSpec, submission: Path) -> Path:
        if exercise.context is None:
            return (submission / exercise.dockerfile).parent
        return (self.lab_dir / exercise.context).resolve()


def load_lab(path: Path) -> LabSpec:
    """Read and validate a lab.yml; raise SpecError naming file, line and field."""
    display = display_path(path)
    try:
        raw = YAML(typ="rt").load(path.read_text())
    except OSError as exc:
        raise SpecError(f"Cannot read the lab spec {display}: {exc.strerror}.") from exc
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{display}:{mark.line + 1}" if mark else display
        raise SpecError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)}).") from exc
    try:
        lab = LabSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(
            f"{display} is not a valid lab spec:\n" + "\n".join(explain(exc, raw, display)),
            hint="Every key is documented in docs/spec.md.",
        ) from exc
    lab._source = path.resolve()
    return lab


def explain(error: ValidationError, raw: Any, display: str) -> list[str]:
    lines = []
    for problem in error.errors():
        location = without_union_tags(problem["loc"])
        line = line_of(raw, location)
        field = dotted(location)
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            message = f"unknown key '{location[-1]}'"
        elif problem["type"] == "missing":
            message = "required key is missing"
        lines.append(f"  {display}:{line}: {field}: {message}")
    return lines


def without_union_tags(location: tuple) -> list:
    # Pydantic puts the discriminator value (the check kind) after the list index.
    return [
        part
        for position, part in enumerate(location)
        if not (part in KINDS and position > 0 and isinstance(location[position - 1], int))
    ]


def line_of(raw: Any, location: list) -> int:
    """The 1-based line of the deepest part of `location` that exists in the YAML."""
    node, line = raw, 1
    for part in location:
        try:
            if isinstance(part, int):
                line = node.lc.item(part)[0] + 1
            else:
                line = node.lc.key(part)[0] + 1
            node = node[part]
        except (AttributeError, KeyError, IndexError, TypeError):
            break
    return line


def dotted(location: list) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
