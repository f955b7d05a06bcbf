"""Builds through the engine's classic builder, read step by step, with a time bound.

The classic builder has no time-out and no cancel but the step's own container, so a
`StepStopper` kills whichever step runs until the build ends, once the time is up or the
caller has seen enough.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import docker
from docker.errors import APIError, DockerException
from docker.utils.build import tar as build_context_tar

from grader.engine.buildlog import BuildStep, follow_step, without_added_first_line
from grader.engine.errors import api_message

INJECTED_DOCKERFILE = ".dockerlab.Dockerfile"
STOP_POLL_S = 0.2

LineSink = Callable[[str], None]
StopWhen = Callable[[list[BuildStep]], bool]


@dataclass(frozen=True)
class BuildRequest:
    """What to build: a context folder and a Dockerfile's text (sent beside it, under a
    reserved name, so the learner's file may live outside the context), or a ready context
    `context_tar` that holds its own `Dockerfile` (the grader's own builds, e.g. base-image
    recipes; context_dir, dockerfile_text and exclude are then unused). No tag: untagged."""

    context_dir: Path
    dockerfile_text: str
    tag: str | None
    exclude: tuple[str, ...] = ()  # .dockerignore patterns
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 900
    no_cache: bool = False
    first_line_added: bool = False  # the grader put one instruction before the learner's
    context_tar: bytes | None = None


@dataclass
class BuildOutcome:
    ok: bool
    image_id: str | None
    steps: list[BuildStep]
    log: list[str]
    error: str = ""
    timed_out: bool = False
    stopped: bool = False  # by the caller's `stop_when`, after it had seen enough
    duration_s: float = 0.0

    @property
    def failing_step(self) -> BuildStep | None:
        return None if self.ok or not self.steps else self.steps[-1]

    @property
    def cached_steps(self) -> int:
        return sum(1 for step in self.steps if step.cached)


class StepStopper:
    """Once `stop()` is called or `cancelled` is set, kills the running step's container
    until the build ends (a step whose container is still being created when asked is
    caught on the next round)."""

    def __init__(self, client: docker.DockerClient, steps: list[BuildStep],
                 cancelled: threading.Event | None = None):
        self.client = client
        self.steps = steps
        self.asked = threading.Event()
        self.cancelled = cancelled or threading.Event()
        self.finished = threading.Event()
        self.thread = threading.Thread(target=self._keep_stopping, daemon=True)

    def __enter__(self) -> StepStopper:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.finished.set()
        self.thread.join()

    def stop(self) -> None:
        self.asked.set()

    def _keep_stopping(self) -> None:
        while not self.finished.wait(STOP_POLL_S):
            if not (self.asked.is_set() or self.cancelled.is_set()):
                continue
            container = self.steps[-1].container if self.steps else None
            if container:
                try:
                    self.client.api.kill(container)
                except DockerException:
                    pass  # not started yet, or already gone


def run_build(
    client: docker.DockerClient,
    request: BuildRequest,
    on_line: LineSink = lambda _line: None,
    stop_when: StopWhen | None = None,
    cancelled: threading.Event | None = None,
) -> BuildOutcome:
    """Build; a learner's failure is an outcome, not an error. `stop_when` is asked after
    every line of the log; once it says yes, the rest of the build is stopped, as it is
    once `cancelled` is set."""
    started = time.monotonic()
    steps: list[BuildStep] = []
    log: list[str] = []
    image_id, error, stopped = None, "", False
    expired = threading.Event()
    with tempfile.TemporaryFile() as context, StepStopper(client, steps, cancelled) as stopper:
        if request.context_tar is None:
            build_context_tar(
                str(request.context_dir),
                exclude=list(request.exclude),
                dockerfile=(INJECTED_DOCKERFILE, request.dockerfile_text),
                fileobj=context,
            )
        else:
            context.write(request.context_tar)
        context.seek(0)
        timer = threading.Timer(request.timeout_s, lambda: (expired.set(), stopper.stop()))
        timer.daemon = True
        timer.start()
        try:
            for chunk in client.api.build(
                fileobj=context,
                custom_context=True,
                dockerfile=INJECTED_DOCKERFILE if request.context_tar is None else "Dockerfile",
                tag=request.tag,
                buildargs=request.build_args,
                target=request.target,
                labels=request.labels,
                rm=True,
                nocache=request.no_cache,
                forcerm=True,
                decode=True,
                # The SDK would add the proxies of the grader's ~/.docker/config.json (with
                # any credentials in them) as build args the learner's steps can print.
                use_config_proxy=False,
            ):
                if "stream" in chunk:
                    for line in chunk["stream"].splitlines():
                        log.append(line)
                        on_line(line)
                        follow_step(line, steps)
                        if stop_when is not None and not stopped and stop_when(steps):
                            stopped = True
                            stopper.stop()
                elif "error" in chunk:
                    error = chunk["error"].strip()
                    log.append(error)
                    on_line(error)
                elif "aux" in chunk and "ID" in chunk["aux"]:
                    image_id = chunk["aux"]["ID"]
        except APIError as exc:
            error = api_message(exc)
            log.append(error)
        finally:
            timer.cancel()
    if request.first_line_added:
        steps, error = without_added_first_line(steps, error)
    if image_id is None and not error:
        error = "the builder ended without producing an image"
    ok = image_id is not None and not error and not expired.is_set()
    if expired.is_set():
        error = f"the build took longer than {request.timeout_s:.0f} s and was stopped"
    return BuildOutcome(
        ok=ok,
        image_id=image_id if ok else None,
        steps=steps,
        log=log,
        error=error,
        timed_out=expired.is_set(),
        stopped=stopped,
        duration_s=time.monotonic() - started,
    )
