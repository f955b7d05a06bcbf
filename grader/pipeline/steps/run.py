"""Step `run`: the learner's containers on the lab network, and what they answer.

Containers start as Docker Compose starts `depends_on` services: once the containers an
exercise depends on have started (not answered), so the lab's services come up together;
the checks that call an exercise wait until its dependencies have answered or failed.
Each is removed once its own checks and those of the exercises calling it are judged.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from grader.engine import (
    Completion,
    ContainerRefused,
    ContainerState,
    HttpAnswer,
    Limits,
    Listener,
    Service,
)
from grader.pipeline.facts import Need, Phase, Unavailable
from grader.pipeline.steps.build import IMAGE

if TYPE_CHECKING:
    from grader.pipeline.job import ExerciseJob

POLL_S = 0.1  # a poll is two engine calls and one HTTP request: cheap
SETTLE_S = 2.0  # without an HTTP probe, "up" means still running after this long
READY_PROBE_TIMEOUT_S = 2
HTTP_TIMEOUT_S = 5
# A container that has not answered by GRACE_S is looked at from outside: what it listens on
# (a helper container, 0.15-0.3 s) and its CPU use (the engine's stats: ~5 ms, up to 0.8 s
# when another look sampled less than ~1.5 s before). An app that answers sooner is never
# looked at. Looks grow sparser while it stays busy starting.
GRACE_S = 3.0
LOOK_EVERY_S = 1.5  # at least: the engine's stats answer at once only ~1.5 s after the last
LOOK_BACKOFF = 0.25  # ... and at least this share of its age: 2.5 s apart at 10 s, 7.5 s at 30 s
IDLE_CPU_SHARE = 0.05  # below 5 % of its CPU limit: doing nothing (a JVM starting uses ~100 %)


@dataclass(frozen=True)
class Look:
    """A container that did not answer yet, seen from outside at `at_s` after it started."""

    at_s: float
    listening: tuple[Listener, ...] | None  # None: it could not be looked at
    cpu_share: float | None  # of one CPU, since the previous look (the first: since the start)
    idle: bool = False  # it used less than IDLE_CPU_SHARE of its CPU limit meanwhile

    def serves(self, port: int) -> bool:
        """Something listens on `port` where the published port reaches it."""
        return any(found.port == port and not found.loopback_only for found in self.listening or ())

    def elsewhere(self, port: int) -> tuple[Listener, ...]:
        """What listens, but not where a call to `port` arrives (another port, or loopback)."""
        return tuple(found for found in self.listening or ()
                     if found.port != port or found.loopback_only)


def hopeless(looks: list[Look], port: int) -> bool:
    """Nothing will answer on `port`, so waiting out the time-out is pointless: the container
    listens elsewhere or nowhere and is idle, or it is busy but was already listening
    elsewhere at the look before too (its server is up, on the wrong port)."""
    look = looks[-1]
    if look.listening is None or look.serves(port):
        return False
    if look.idle:
        return True
    return len(looks) > 1 and bool(look.elsewhere(port)) and bool(looks[-2].elsewhere(port))


@dataclass(frozen=True)
class Readiness:
    """How the exercise's container fared: refused, exited, never answered, or ready."""

    network: str
    service: Service | None = None
    refused: str = ""  # the engine would not start it
    exited: ContainerState | None = None  # it stopped by itself
    ready: bool = False
    answer: str = ""  # the ready probe's last answer ("HTTP 200", "ConnectionError")
    after_s: float = 0.0  # how long it took, or how long the grader waited
    logs: str = ""  # the container's last lines when it did not become ready
    look: Look | None = None  # the last look at it, when it did not answer by GRACE_S
    early: bool = False  # not ready, and the look told so before the time-out


@dataclass(frozen=True)
class Started(Need):
    """The exercise's container started on the lab network, and whether it became ready."""

    phase: ClassVar[Phase] = Phase.RUN

    def requires(self, job: ExerciseJob) -> tuple[Need, ...]:
        return (IMAGE,) if job.exercise.run is not None else ()

    def provide(self, job: ExerciseJob) -> Readiness:
        if job.exercise.run is None:
            raise Unavailable("not checked: the lab gives this exercise no `run:` section")
        spec = job.exercise.run
        for dependency in spec.depends_on:
            job.other(dependency).started.wait()
        sandbox = job.sandbox
        network = sandbox.lab_network(job.lab.network)
        try:
            service = sandbox.start_service(
                job.exercise.id,
                job.value(IMAGE).id,
                spec.name,
                network=network,
                aliases=spec.aliases,
                env=spec.env,
                ports=tuple(spec.ports),
                limits=limits(job),
            )
        except ContainerRefused as refused:
            return Readiness(network, refused=refused.reason)
        finally:
            job.started.set()
        try:
            return wait_until_ready(job, Readiness(network, service=service))
        finally:
            job.settled.set()

    def evidence(self, value: Readiness) -> dict[str, str]:
        said = [value.refused, value.exited.logs if value.exited else "", value.logs]
        return {"container": "\n".join(part for part in said if part)}


def limits(job: ExerciseJob) -> Limits:
    spec = job.lab.limits
    return Limits(memory_mb=spec.memory_mb, pids=spec.pids, cpus=spec.cpus)


class Lookout:
    """The looks at a container that does not answer yet: the first at GRACE_S, then sparser."""

    def __init__(self, job: ExerciseJob, container_id: str, begun: float):
        self.sandbox = job.sandbox
        self.idle_below = IDLE_CPU_SHARE * limits(job).cpus  # a throttled app is busy too
        self.container_id = container_id
        self.begun = begun
        self.looks: list[Look] = []
        self._cpu = (0.0, 0.0)  # (s since the start, CPU seconds): the cgroup starts at zero
        self._next_s = GRACE_S

    def due(self) -> bool:
        return time.monotonic() - self.begun >= self._next_s

    def look(self) -> Look:
        cpu = self.sandbox.cpu_seconds(self.container_id)
        at_s = time.monotonic() - self.begun
        listening = self.sandbox.listening(self.container_id)
        share = None
        if cpu is not None:
            since_s, since_cpu = self._cpu
            share = max(0.0, cpu - since_cpu) / max(at_s - since_s, 0.001)
            self._cpu = (at_s, cpu)
        idle = share is not None and share < self.idle_below
        look = Look(time.monotonic() - self.begun, listening, share, idle)
        self.looks.append(look)
        self._next_s = look.at_s + max(LOOK_EVERY_S, LOOK_BACKOFF * look.at_s)
        return look

    @property
    def last(self) -> Look | None:
        return self.looks[-1] if self.looks else None


def wait_until_ready(job: ExerciseJob, started: Readiness) -> Readiness:
    ready = job.exercise.run.ready
    service, sandbox = started.service, job.sandbox
    begun = time.monotonic()
    deadline = begun + job.deadline.clamp(ready.timeout_s)
    last_answer = "no answer"
    lookout = Lookout(job, service.container_id, begun)
    while time.monotonic() < deadline:
        state = sandbox.container_state(service.container_id)
        elapsed = time.monotonic() - begun
        if not state.running:
            return with_fields(started, exited=state, after_s=elapsed)
        if ready.path is None:
            if elapsed >= SETTLE_S:
                return with_fields(started, ready=True, after_s=elapsed)
        else:
            answer = sandbox.http(service, "GET", ready.path, ready.port,
                                  timeout_s=READY_PROBE_TIMEOUT_S)
            if answer.status is not None and answer.status < 500:
                return with_fields(started, ready=True, answer=str(answer.status),
                                   after_s=time.monotonic() - begun)
            last_answer = f"HTTP {answer.status}" if answer.status else answer.error
            if lookout.due():
                look = lookout.look()
                if hopeless(lookout.looks, ready.port):
                    logs = sandbox.container_state(service.container_id).logs
                    return with_fields(started, answer=last_answer, after_s=look.at_s,
                                       logs=logs, look=look, early=True)
        time.sleep(POLL_S)
    if job.deadline.passed:  # it ended the wait, not the ready time-out
        raise Unavailable(job.deadline.reason)
    logs = sandbox.container_state(service.container_id).logs
    return with_fields(started, answer=last_answer, after_s=time.monotonic() - begun,
                       logs=logs, look=lookout.last)


def with_fields(readiness: Readiness, **fields) -> Readiness:
    return Readiness(**{**vars(readiness), **fields})


STARTED = Started()


@dataclass(frozen=True)
class Ready(Need):
    """The exercise's running service, once it answered; the exercises it depends on have
    answered (or failed) by then too, so calls that reach them through it are fair."""

    phase: ClassVar[Phase] = Phase.RUN

    def requires(self, job: ExerciseJob) -> tuple[Need, ...]:
        return (STARTED,)

    def provide(self, job: ExerciseJob) -> Service:
        for dependency in job.exercise.run.depends_on:
            job.other(dependency).settled.wait()
        readiness = job.value(STARTED)
        if not readiness.ready:
            raise Unavailable("not checked: the container did not start and answer (ML4-RUN)")
        return readiness.service


READY = Ready()


@dataclass(frozen=True)
class ExecResult:
    exit_status: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Exec(Need):
    """A shell command run in the running container (pytest-testinfra, exec API)."""

    command: str

    phase: ClassVar[Phase] = Phase.RUN

    def requires(self, job: ExerciseJob) -> tuple[Need, ...]:
        return (READY,)

    def provide(self, job: ExerciseJob) -> ExecResult:
        done = job.sandbox.host(job.value(READY)).run(self.command)
        return ExecResult(done.rc, done.stdout or "", done.stderr or "")

    def evidence(self, value: ExecResult) -> dict[str, str]:
        return {"container": value.stdout + value.stderr}


@dataclass(frozen=True)
class Http(Need):
    """One HTTP request to the exercise's service on a published container port."""

    method: str
    path: str
    port: int = 80
    json_text: str | None = None  # the JSON body, serialised (needs are hashable)
    body: str | None = None

    phase: ClassVar[Phase] = Phase.RUN

    @classmethod
    def of(cls, method: str, path: str, port: int = 80, json_body: Any = None,
           body: str | None = None) -> Http:
        encoded = None if json_body is None else json.dumps(json_body, sort_keys=True)
        return cls(method, path, port, encoded, body)

    def requires(self, job: ExerciseJob) -> tuple[Need, ...]:
        return (READY,)

    def provide(self, job: ExerciseJob) -> HttpAnswer:
        service = job.value(READY)
        answer = job.sandbox.http(
            service,
            self.method,
            self.path,
            self.port,
            json_body=None if self.json_text is None else json.loads(self.json_text),
            body=self.body,
            timeout_s=HTTP_TIMEOUT_S,
        )
        if answer.status is not None:
            return answer
        logs = job.sandbox.container_state(service.container_id).logs
        return HttpAnswer(None, error=answer.error, logs=logs)

    def evidence(self, value: HttpAnswer) -> dict[str, str]:
        return {"container": value.logs} if value.logs else {}


@dataclass(frozen=True)
class ServedBy(Need):
    """A GET to another exercise's service, once that one has answered or failed; None
    when it is not running and ready."""

    exercise: str
    path: str
    port: int = 80

    phase: ClassVar[Phase] = Phase.RUN

    def provide(self, job: ExerciseJob) -> HttpAnswer | None:
        other = job.other(self.exercise)
        if other is None:  # not graded in this run
            return None
        other.settled.wait()
        readiness = other.known(STARTED)
        if readiness is None or not readiness.ready:
            return None
        return job.sandbox.http(readiness.service, "GET", self.path, self.port,
                                timeout_s=HTTP_TIMEOUT_S)


@dataclass(frozen=True)
class RunToCompletion(Need):
    """The image's own command, run with no network until it exits (the chapter's 4.1)."""

    timeout_s: float

    phase: ClassVar[Phase] = Phase.RUN

    def requires(self, job: ExerciseJob) -> tuple[Need, ...]:
        return (IMAGE,)

    def provide(self, job: ExerciseJob) -> Completion:
        image = job.value(IMAGE).id
        completion = job.sandbox.run_to_completion(image, job.deadline.clamp(self.timeout_s),
                                                   limits(job))
        if completion.exit_code is None and job.deadline.passed:
            raise Unavailable(job.deadline.reason)  # the deadline ended it, not its time-out
        return completion

    def evidence(self, value: Completion) -> dict[str, str]:
        return {"container": value.output}
