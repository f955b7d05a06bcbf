"""A fake engine for unit tests: a Sandbox that replays recorded facts instead of calling Docker.

A test says, per exercise, what the engine did (`Recorded`): how the build went (`Build`, as
the classic builder prints it), the image's configuration and layers, how the cache probe's
rebuild went, how the container behaves (`Answers`, `Refused`, `Exits`, `Silent`), what
commands in it print and what the image prints when run to completion. `FakeEngine.session()`
gives a `FakeSandbox` with the methods the pipeline's steps and the runner call; every call is
recorded (`sandbox.calls`) so tests can assert what was built, inspected or started, and when.

The build log is generated and read back with the real log reader (grader/engine/buildlog.py),
so steps, cache flags and line numbers come out as they do from a real build.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from grader.dockerfile import platform_args, tokenise
from grader.engine import (
    BuildOutcome,
    BuildRequest,
    BuildStep,
    Completion,
    ContainerRefused,
    ContainerState,
    HistoryRow,
    HttpAnswer,
    ImageFacts,
    ImageHistory,
    ImageLayer,
    Limits,
    Listener,
    Service,
)
from grader.engine.buildlog import follow_step, without_added_first_line
from grader.errors import EngineError
from grader.pipeline.config import RunConfig
from grader.pipeline.job import ExerciseJob
from grader.pipeline.steps import run as run_step
from grader.spec import LabSpec, load_lab

GATE_TIMEOUT_S = 10  # a gated build that is never let go fails the test instead of hanging it


# -- what the engine did, as a test records it ---------------------------------------------

# A two-stage Go Dockerfile that the fake builds as recorded (tags no real engine has).
GO_TWO_STAGES = """\
FROM diamol/golang:2e AS builder
COPY main.go .
RUN go build -o /server
FROM diamol/base:2e
EXPOSE 80
CMD ["/server"]
COPY --from=builder /server /server
"""


@dataclass(frozen=True)
class Build:
    """How a build goes, as the classic builder prints it for the Dockerfile it is given:
    one `Step n/m` per instruction, each from cache or run."""

    cached: bool = False  # every step from cache (a rebuild with nothing changed)
    breaks_at: str | None = None  # steps before the first containing this come from cache
    fails_at: str | None = None  # the first step containing this fails with `error`
    error: str = ""  # without `fails_at`: the builder rejects the file before step 1
    output: tuple[str, ...] = ()  # what the failing (or else the last) step printed
    timed_out: bool = False  # the time-out stopped it at `fails_at`
    gate: threading.Event | None = None  # the build ends once this is set

    def log(self, dockerfile_text: str) -> list[str]:
        if self.error and self.fails_at is None:
            return []  # rejected before the first step
        instructions = tokenise(dockerfile_text)
        total, lines = len(instructions), []
        running = not self.cached and self.breaks_at is None
        for number, instruction in enumerate(instructions, start=1):
            printed = " ".join(instruction.original.split())
            lines.append(f"Step {number}/{total} : {printed}")
            if self.breaks_at is not None and self.breaks_at in printed:
                running = True
            failing = self.fails_at is not None and self.fails_at in printed
            last = number == total
            if instruction.keyword == "FROM":
                pass
            elif not running and not failing:
                lines.append(" ---> Using cache")
            elif instruction.keyword == "RUN":
                lines.append(f" ---> Running in {hex_id('container', printed)}")
            if failing or (last and self.fails_at is None):
                lines += self.output
            if failing:
                return lines  # the builder's error follows
            lines.append(f" ---> {hex_id('layer', printed, running)}")
        return lines


@dataclass(frozen=True)
class Answers:
    """A server that stays up: `routes` maps "METHOD /path" to (status, text), or to None
    for a request it never answers; any other request gets 404 (the app is up, the path
    unknown). Until `up_after_s` after its start it answers nothing (still starting)."""

    routes: dict[str, tuple[int, str] | None] = field(default_factory=dict)
    up_after_s: float = 0.0
    logs: str = ""


@dataclass(frozen=True)
class Refused:
    """The engine will not start the container (e.g. CMD names a program the image lacks)."""

    reason: str


@dataclass(frozen=True)
class Exits:
    """The container stops by itself at once."""

    code: int
    logs: str = ""
    oom_killed: bool = False


@dataclass(frozen=True)
class Silent:
    """The container runs but never answers HTTP: it listens on `listening` (None: a look
    at it fails) and is idle, or `busy` using one whole CPU."""

    logs: str = ""
    listening: tuple[Listener, ...] | None = ()
    busy: bool = False


@dataclass(frozen=True)
class Ran:
    """A command's result inside a container, as testinfra's `host.run` gives it."""

    rc: int
    stdout: str = ""
    stderr: str = ""


Behaviour = Answers | Refused | Exits | Silent


@dataclass(frozen=True)
class Recorded:
    """What the engine did for one exercise."""

    build: Build | Callable[[BuildRequest], Build] = field(default_factory=Build)
    image_id: str | None = None  # default: sha256:<exercise>
    image: dict[str, Any] = field(default_factory=dict)  # ImageFacts fields
    layers: list[ImageLayer] = field(default_factory=list)
    history: ImageHistory | None = None  # default: one row per layer, nothing known of its base
    # The cache probe's rebuild, given its request (the changed copy of the context):
    probe: Build | Callable[[BuildRequest], Build] = field(
        default_factory=lambda: Build(cached=True)
    )
    service: Behaviour = field(default_factory=Answers)
    commands: dict[str, Ran] = field(default_factory=dict)
    completion: Completion = field(default_factory=lambda: Completion(0, ""))


@dataclass(frozen=True)
class Call:
    name: str  # the Sandbox method
    exercise: str | None
    args: dict[str, Any]
    at: float  # time.monotonic() when it was made


# -- the engine and its sandbox --------------------------------------------------------------


class FakeEngine:
    def __init__(self, recorded: dict[str, Recorded] | None = None,
                 bases: dict[str, ImageHistory] | None = None):
        self.recorded = recorded or {}  # a reference solution's build: "<exercise>:reference"
        self.bases = bases or {}  # base images by name; any other is not in the engine
        self.platform_args = platform_args("linux", "amd64")
        self.sandboxes: list[FakeSandbox] = []
        self.untagged: list[str] = []  # tags a batch removed once a learner was graded
        self.info = {"NCPU": 2}

    def session(self, owner: str = "grader") -> FakeSandbox:
        sandbox = FakeSandbox(self, owner)
        self.sandboxes.append(sandbox)
        return sandbox

    def of(self, exercise: str) -> Recorded:
        return self.recorded.get(exercise, Recorded())

    def untag(self, tags: list[str]) -> None:
        self.untagged.extend(tags)

    def image_id(self, exercise: str) -> str:
        return self.of(exercise).image_id or f"sha256:{exercise}"


class FakeSandbox:
    _numbers = itertools.count(1)

    def __init__(self, engine: FakeEngine, owner: str):
        self.engine = engine
        self.owner = owner
        self.session = f"fake{next(self._numbers):08d}"
        self.calls: list[Call] = []
        self.cancelled = False
        self.closed = False
        self._lock = threading.Lock()
        self._started: dict[str, tuple[str, float]] = {}  # container -> exercise, start time
        self._removed: set[str] = set()
        self._clock_at_start: dict[str, float] = {}  # container -> the run step's clock

    def __enter__(self) -> FakeSandbox:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    # -- what was asked ----------------------------------------------------------------

    def _record(self, name: str, exercise: str | None, **args: Any) -> None:
        with self._lock:
            self.calls.append(Call(name, exercise, args, time.monotonic()))

    def made(self, name: str, exercise: str | None = None, **args: Any) -> list[Call]:
        """The calls of one method, for one exercise, with these arguments."""
        return [
            call
            for call in self.calls
            if call.name == name
            and (exercise is None or call.exercise == exercise)
            and all(call.args.get(key) == value for key, value in args.items())
        ]

    # -- builds and images -------------------------------------------------------------

    def build(self, request: BuildRequest, *, on_line=lambda _line: None, throwaway=False,
              stop_when=None) -> BuildOutcome:
        """Replays the recorded build's log as the real sandbox reads it (grader/engine/build.py)."""
        exercise = exercise_of(request, self.session)
        self._record("build", exercise, request=request, throwaway=throwaway)
        recorded = self.engine.of(exercise)
        script = recorded.probe if throwaway else recorded.build
        if callable(script):
            script = script(request)
        if script.gate is not None:
            assert script.gate.wait(GATE_TIMEOUT_S), f"the build of {exercise} was never let go"
        steps: list[BuildStep] = []
        log: list[str] = []
        stopped = False
        for line in script.log(request.dockerfile_text):
            log.append(line)
            on_line(line)
            follow_step(line, steps)
            if stop_when is not None and stop_when(steps):
                stopped = True  # the real sandbox kills the running step: the build fails
                break
        error = script.error
        if error:
            log.append(error)
            on_line(error)
        if request.first_line_added:
            steps, error = without_added_first_line(steps, error)
        if script.timed_out:
            error = f"the build took longer than {request.timeout_s:.0f} s and was stopped"
        elif stopped:
            error = "The command '/bin/sh -c ...' returned a non-zero code: 137"
        ok = not error
        return BuildOutcome(
            ok=ok,
            image_id=self.engine.image_id(exercise) if ok else None,
            steps=steps,
            log=log,
            error=error,
            timed_out=script.timed_out,
            stopped=stopped,
            duration_s=1.5,
        )

    def image_facts(self, ref: str) -> ImageFacts:
        exercise = self._exercise_of_image(ref)
        self._record("image_facts", exercise, ref=ref)
        facts = ImageFacts(ref=ref, id=ref, size_bytes=5_000_000, exposed_ports=(), env={},
                           cmd=None, entrypoint=None, workdir="", user="")
        return replace(facts, **self.engine.of(exercise).image)

    def image_layers(self, ref: str) -> list[ImageLayer]:
        exercise = self._exercise_of_image(ref)
        self._record("image_layers", exercise, ref=ref)
        return self.engine.of(exercise).layers

    def image_history(self, ref: str) -> ImageHistory | None:
        if ref in self.engine.bases or not ref.startswith("sha256:"):
            self._record("image_history", None, ref=ref)
            return self.engine.bases.get(ref)
        exercise = self._exercise_of_image(ref)
        self._record("image_history", exercise, ref=ref)
        recorded = self.engine.of(exercise)
        if recorded.history is not None:
            return recorded.history
        rows = tuple(HistoryRow(layer.created_by, sum(entry.size for entry in layer.entries))
                     for layer in recorded.layers)
        return ImageHistory(ref, rows, tuple(f"sha256:layer{n}" for n in range(len(rows))))

    def _exercise_of_image(self, ref: str) -> str:
        for exercise in self.engine.recorded:
            if self.engine.image_id(exercise) == ref:
                return exercise
        assert ref.startswith("sha256:"), f"no image {ref} was built"
        return ref.removeprefix("sha256:")

    # -- networks and containers -------------------------------------------------------

    def lab_network(self, lab_network: str) -> str:
        self._record("lab_network", None, lab_network=lab_network)
        return f"{lab_network}-{self.session}"

    def start_service(self, exercise: str, image: str, alias: str, *, network: str,
                      aliases=None, env=None, ports=None, limits: Limits | None = None) -> Service:
        self._record("start_service", exercise, image=image, alias=alias, network=network,
                     aliases=aliases, env=env, ports=ports, limits=limits)
        behaviour = self.engine.of(exercise).service
        if isinstance(behaviour, Refused):
            raise ContainerRefused(behaviour.reason)
        container_id = hex_id("container", self.session, exercise)
        with self._lock:
            self._started[container_id] = (exercise, time.monotonic())
            self._clock_at_start[container_id] = run_step.time.monotonic()
        host_ports = {inside: 40000 + inside for inside in ports or {}}
        return Service(exercise, alias, f"dockerlab-{self.session}-{alias}", container_id,
                       host_ports)

    def remove_service(self, service: Service) -> None:
        self._record("remove_service", service.exercise)
        with self._lock:
            self._removed.add(service.container_id)

    def container_state(self, container_id: str, log_lines: int = 20) -> ContainerState:
        exercise, _ = self._started[container_id]
        self._record("container_state", exercise)
        if container_id in self._removed:  # as the real sandbox reports the engine's NotFound
            raise EngineError("The Docker engine failed while reading a container's state: "
                              f"No such container: {container_id}")
        behaviour = self.engine.of(exercise).service
        if isinstance(behaviour, Exits):
            return ContainerState(False, behaviour.code, behaviour.oom_killed, behaviour.logs)
        return ContainerState(True, None, False, behaviour.logs)

    def listening(self, container_id: str) -> tuple[Listener, ...] | None:
        """A Silent container's sockets; a starting server listens nowhere yet, an up one on
        every port it publishes."""
        exercise, started = self._started[container_id]
        self._record("listening", exercise)
        behaviour = self.engine.of(exercise).service
        if isinstance(behaviour, Silent):
            return behaviour.listening
        (start_service,) = self.made("start_service", exercise)
        up = isinstance(behaviour, Answers) and time.monotonic() - started >= behaviour.up_after_s
        return tuple(Listener(port, "::") for port in start_service.args["ports"] or {}) if up else ()

    def cpu_seconds(self, container_id: str) -> float | None:
        """Busy (a Silent one that says so, or a server still starting): one CPU all along,
        by the run step's clock (a test may make it a fake one); otherwise none at all."""
        exercise, started = self._started[container_id]
        self._record("cpu_seconds", exercise)
        behaviour = self.engine.of(exercise).service
        starting = isinstance(behaviour, Answers) and time.monotonic() - started < behaviour.up_after_s
        if not (starting or isinstance(behaviour, Silent) and behaviour.busy):
            return 0.0
        return run_step.time.monotonic() - self._clock_at_start[container_id]

    def http(self, service: Service, method: str, path: str, port: int = 80, *,
             json_body: Any = None, body: str | None = None, timeout_s: float = 5) -> HttpAnswer:
        self._record("http", service.exercise, method=method, path=path, port=port,
                     json_body=json_body, body=body)
        behaviour = self.engine.of(service.exercise).service
        _, started = self._started[service.container_id]
        if (not isinstance(behaviour, Answers) or service.container_id in self._removed
                or time.monotonic() - started < behaviour.up_after_s):
            return HttpAnswer(None, error="ConnectionError")
        route = f"{method} {path}"
        if route not in behaviour.routes:
            return HttpAnswer(404, "404 page not found")
        answer = behaviour.routes[route]
        return HttpAnswer(None, error="ReadTimeout") if answer is None else HttpAnswer(*answer)

    def host(self, service: Service) -> FakeHost:
        return FakeHost(self, service)

    def run_to_completion(self, image: str, timeout_s: float,
                          limits: Limits | None = None) -> Completion:
        exercise = self._exercise_of_image(image)
        self._record("run_to_completion", exercise, image=image, timeout_s=timeout_s)
        return self.engine.of(exercise).completion

    # -- clean-up ----------------------------------------------------------------------

    def cancel(self) -> None:
        self._record("cancel", None)
        self.cancelled = True

    def close(self) -> None:
        self._record("close", None)
        self.closed = True


class FakeHost:
    """testinfra's host inside a container: `run(command)` gives the recorded result."""

    def __init__(self, sandbox: FakeSandbox, service: Service):
        self.sandbox = sandbox
        self.service = service

    def run(self, command: str) -> Ran:
        self.sandbox._record("exec", self.service.exercise, command=command)
        commands = self.sandbox.engine.of(self.service.exercise).commands
        program = command.split()[0] if command.split() else command
        return commands.get(command, Ran(127, "", f"/bin/sh: {program}: not found"))


def exercise_of(request: BuildRequest, session: str) -> str:
    """The learner's build is labelled with its exercise (a reference solution's build too,
    and tagged apart); the probe's tag ends with it."""
    if "dockerlab.exercise" in request.labels:
        exercise = request.labels["dockerlab.exercise"]
        reference = (request.tag or "").startswith("dockerlab-reference/")
        return f"{exercise}:reference" if reference else exercise
    return request.tag.split(":", 1)[1].removeprefix(f"{session}-")


def hex_id(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:12]


# -- a lab to grade ------------------------------------------------------------------------


def write_files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def exercise(exercise_id: str, **keys: Any) -> dict:
    """An exercise entry of lab.yml whose Dockerfile is <id>/Dockerfile."""
    return {
        "id": exercise_id,
        "title": f"The {exercise_id} exercise",
        "dockerfile": f"{exercise_id}/Dockerfile",
        "image": f"dockerlab/{exercise_id}",
        **keys,
    }


def service(name: str, **keys: Any) -> dict:
    """A `run:` entry publishing port 80, up once GET /health answers."""
    return {"name": name, "ports": {80: 8080}, "ready": {"path": "/health"}, **keys}


def write_lab(root: Path, *exercises: dict, **keys: Any) -> LabSpec:
    """root/lab.yml as a lab author writes it (JSON is YAML too), loaded and validated."""
    lab = {"version": 1, "id": "lab4", "title": "Multi-stage builds", "pass_mark": 50,
           "exercises": list(exercises), **keys}
    (root / "lab.yml").write_text(json.dumps(lab))
    return load_lab(root / "lab.yml")


def exercise_jobs(lab: LabSpec, submission: Path, sandbox: FakeSandbox,
                  config: RunConfig | None = None) -> dict[str, ExerciseJob]:
    """One job per exercise of the lab, as the runner makes them (without running them)."""
    jobs: dict[str, ExerciseJob] = {}
    for spec in lab.exercises:
        jobs[spec.id] = ExerciseJob(lab, spec, submission, sandbox, config or RunConfig(),
                                    nullcontext(), jobs)
    return jobs


def quick_readiness(monkeypatch) -> None:
    """Poll containers often and count one without an HTTP probe as up at once."""
    monkeypatch.setattr(run_step, "POLL_S", 0.005)
    monkeypatch.setattr(run_step, "SETTLE_S", 0.02)
