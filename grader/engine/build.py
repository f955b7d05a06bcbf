"""Builds through the engine's classic builder, read step by step, within bounds.

The bounds (docs/reference/bounds.md, "Builds"), as measured on Docker 20.10:

- **Time.** The classic builder has no time-out and no cancel call. Once the time is up (or
  the caller has seen enough, or the grading is cancelled) a `BuildStopper` kills the
  running step's container, and after `STOP_GRACE_S` closes the build's stream: a client
  gone away is the builder's cancel (it kills the running step's container, removes it, and
  starts no further step). It is the only stop for a step with no container, but it does
  not cancel a download (`ADD http://...`) or a pull (`FROM host/...`) under way, which
  keeps its connection until the server ends it; the grader has its verdict all the same.
- **Context.** Walked as the SDK packs it (.dockerignore honoured) and measured before
  anything is packed: the total size of its files and its number of entries.
- **Memory.** Every step's container gets the build API's `memory` and `memswap` (no swap);
  a step killed for it is told by the engine's `oom` event.
- **Processes.** The build API has no pids limit. When the engine runs on this machine with
  cgroup v1 and the cgroupfs driver, the grader makes a cgroup with `pids.max` and gives it
  as the build's cgroup parent (`StepCgroup`); elsewhere (a remote engine, Docker Desktop)
  build steps have no process limit, and the outcome says so (`unlimited`).
- **Log.** Cut and kept within bounds by `buildlog.LineReader` and `buildlog.BoundedLog`.
"""

from __future__ import annotations

import functools
import json
import math
import os
import platform
import stat
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import IO

import docker
import requests
import urllib3
from docker.errors import APIError, DockerException, StreamParseError
from docker.types import CancellableStream
from docker.utils.build import PatternMatcher, create_archive

from grader.engine.buildlog import (
    BoundedLog,
    BuildStep,
    LineReader,
    cut,
    follow_step,
    without_added_first_line,
)
from grader.engine.errors import api_message

INJECTED_DOCKERFILE = ".dockerlab.Dockerfile"
STOP_POLL_S = 0.2
STOP_GRACE_S = 2.0  # a killed step's failure comes back within a second; a download's never
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_RELEASE_S = 3.0  # the engine removes a stopped step's container in about 0.3 s
OOM_EVENTS_WAIT_S = 0.5  # the engine sends the events already past at once
ENGINE_CLOCK_SLACK_S = 60  # an engine whose clock runs behind the grader's
MIB = 1024 * 1024

LineSink = Callable[[str], None]
StopWhen = Callable[[list[BuildStep]], bool]
# What reading a build's answer raises once its stream is closed under it (or the engine
# breaks it): a read cut short, a message cut in half.
STREAM_CUT = (requests.RequestException, urllib3.exceptions.HTTPError, StreamParseError, OSError)


class Bound(str, Enum):
    MEMORY = "memory"
    PROCESSES = "processes"
    CONTEXT_SIZE = "context size"
    CONTEXT_FILES = "context files"


@dataclass(frozen=True)
class BuildLimits:
    """What a learner's build may use (the exercise's `build:` key)."""

    memory_mb: int  # each step's container (memory + swap: no swap)
    pids: int  # the processes and threads of the build's steps, where the grader can set it
    context_mb: int  # the total size of the context's files, before they are sent
    context_files: int  # the context's files, folders and links


@dataclass(frozen=True)
class LimitHit:
    """A bound the build ran into: its `limit`, and the figure measured when one is known
    (MiB for the context's size, the processes the steps reached)."""

    bound: Bound
    limit: int
    measured: int | None = None


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
    limits: BuildLimits | None = None  # None: the grader's own builds are not limited


@dataclass
class BuildOutcome:
    ok: bool
    image_id: str | None
    steps: list[BuildStep]
    log: list[str]  # its head and tail (buildlog.BoundedLog)
    error: str = ""
    timed_out: bool = False
    stopped: bool = False  # by the caller's `stop_when`, after it had seen enough
    duration_s: float = 0.0
    limit_hit: LimitHit | None = None
    unlimited: str = ""  # a limit the engine could not be given, and why

    @property
    def failing_step(self) -> BuildStep | None:
        return None if self.ok or not self.steps else self.steps[-1]

    @property
    def cached_steps(self) -> int:
        return sum(1 for step in self.steps if step.cached)


class BuildStopper:
    """Stops a build from beside the thread that reads its log, once the time is up,
    `stop()` is called or `cancelled` is set: it kills the running step's container as long
    as the build goes on (the step fails and the builder ends the build, whose end the
    reader still sees), and after STOP_GRACE_S closes the build's stream, which the builder
    takes as a cancel: the only stop for a step with no container (a download, a pull)."""

    def __init__(self, client: docker.DockerClient, steps: list[BuildStep], timeout_s: float,
                 cancelled: threading.Event | None = None):
        self.client = client
        self.steps = steps
        self.deadline = time.monotonic() + timeout_s
        self.asked = threading.Event()
        self.cancelled = cancelled or threading.Event()
        self.expired = threading.Event()
        self.finished = threading.Event()
        self.stream: CancellableStream | None = None
        self.closed = False
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._keep_stopping, daemon=True)

    def __enter__(self) -> BuildStopper:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.finished.set()
        self.thread.join()

    def stop(self) -> None:
        self.asked.set()

    @property
    def stopping(self) -> bool:
        return self.asked.is_set() or self.cancelled.is_set() or self.expired.is_set()

    def follow(self, stream: CancellableStream) -> None:
        with self._lock:
            self.stream = stream

    def _keep_stopping(self) -> None:
        stopping_since = None
        while not self.finished.wait(STOP_POLL_S):
            if time.monotonic() >= self.deadline:
                self.expired.set()
            if not self.stopping:
                continue
            stopping_since = stopping_since or time.monotonic()
            self._kill_running_step()
            if time.monotonic() - stopping_since >= STOP_GRACE_S:
                self._close_stream()

    def _kill_running_step(self) -> None:
        container = self.steps[-1].container if self.steps else None
        if container:
            try:
                self.client.api.kill(container)
            except DockerException:
                pass  # not started yet, or already gone

    def _close_stream(self) -> None:
        with self._lock:
            if self.stream is None or self.closed:
                return  # no answer yet: the request's own time-out ends the wait
            self.closed = True
            close_quietly(self.stream)


class PackingTimedOut(Exception):
    """The context's walk went past the build's deadline."""


class DeadlineWalk(PatternMatcher):
    """The SDK's walk of a build context (.dockerignore honoured), given up at `deadline`.
    Every path it looks at, kept or left out, passes `matches`, whose cost grows with the
    patterns: past the 100 compiled patterns the SDK caches, each is compiled again for
    every path (5,000 patterns took 0.3 s a file)."""

    def __init__(self, patterns: list[str], deadline: float):
        super().__init__(patterns)
        self.deadline = deadline

    def matches(self, filepath: str) -> bool:
        if time.monotonic() > self.deadline:
            raise PackingTimedOut(filepath)
        return super().matches(filepath)


def pack_context(request: BuildRequest, into: IO[bytes], deadline: float) -> LimitHit | None:
    """Pack the request's context as the SDK's `tar()` does, with its Dockerfile beside it,
    unless the context is beyond the request's limits: the walk counts its entries and sums
    the sizes of its files (a sparse file by the size it claims, as tar sends it) before
    anything is packed."""
    root = os.path.abspath(request.context_dir)
    limits = request.limits
    patterns = [*request.exclude, f"!{INJECTED_DOCKERFILE}"]
    paths: list[str] = []
    size = 0
    for path in DeadlineWalk(patterns, deadline).walk(root):
        paths.append(path)
        if limits is not None and len(paths) > limits.context_files:
            return LimitHit(Bound.CONTEXT_FILES, limits.context_files)
        found = os.lstat(os.path.join(root, path))
        if stat.S_ISREG(found.st_mode):
            size += found.st_size
    if limits is not None and size > limits.context_mb * MIB:
        return LimitHit(Bound.CONTEXT_SIZE, limits.context_mb, math.ceil(size / MIB))
    # As the SDK's tar(): a .dockerignore that names the injected Dockerfile keeps it out of
    # the learner's `COPY . .`.
    ignore = "\n".join([*(request.exclude or [".dockerignore"]), INJECTED_DOCKERFILE])
    create_archive(root, files=sorted(paths), fileobj=into,
                   extra_files=[(".dockerignore", ignore),
                                (INJECTED_DOCKERFILE, request.dockerfile_text)])
    return None


def process_limit_unavailable(info: dict, host_name: str, may_make_cgroups: bool) -> str:
    """Why the grader cannot limit the processes of this engine's build steps; '' when it
    can: the engine runs on this machine (its host name), with cgroup v1 and the cgroupfs
    driver, so a cgroup the grader makes under /sys/fs/cgroup/pids may be the build's
    cgroup parent. The build API itself has no pids limit."""
    if info.get("Name") != host_name:
        return "the engine runs on another machine or in a VM (a remote engine, Docker Desktop)"
    if info.get("CgroupVersion") != "1" or info.get("CgroupDriver") != "cgroupfs":
        return (f"the engine uses cgroup v{info.get('CgroupVersion')} with the "
                f"{info.get('CgroupDriver')} driver; the grader sets it on cgroup v1 with "
                "cgroupfs only")
    if not may_make_cgroups:
        return f"the grader may not make cgroups under {CGROUP_ROOT / 'pids'} (it is not root)"
    return ""


@functools.lru_cache(maxsize=None)
def process_limit_route(client: docker.DockerClient) -> str:
    """`process_limit_unavailable` for this engine, asked once."""
    return process_limit_unavailable(client.info(), platform.node(),
                                     os.access(CGROUP_ROOT / "pids", os.W_OK))


CGROUP_PREFIX = "dockerlab-build-"  # each build's cgroup: this and a random part


class StepCgroup:
    """A cgroup of this machine for one build's steps, holding `pids.max`: given as the
    build's cgroup parent, each step's container is made inside it, so the limit holds for
    them all (the steps run one at a time). runc makes the same folder in every hierarchy;
    all of them are removed on exit, once the engine has removed the last step's container.
    `unavailable` says why there is none."""

    def __init__(self, client: docker.DockerClient, limits: BuildLimits | None):
        self.pids = limits.pids if limits else 0
        self.name = f"{CGROUP_PREFIX}{uuid.uuid4().hex[:12]}"
        self.unavailable = process_limit_route(client) if limits else ""
        self.made = False

    @property
    def parent(self) -> str | None:
        return f"/{self.name}" if self.made and not self.unavailable else None

    def __enter__(self) -> StepCgroup:
        if self.pids and not self.unavailable:
            folder = CGROUP_ROOT / "pids" / self.name
            try:
                folder.mkdir()
                self.made = True
                (folder / "pids.max").write_text(str(self.pids))
            except OSError as exc:
                self.unavailable = f"the grader could not make a cgroup ({exc.strerror})"
        return self

    def peak(self) -> int | None:
        """The most processes the steps ran at once (pids.peak; None where the kernel does
        not keep it, before Linux 6.1, or with no cgroup)."""
        try:
            return int((CGROUP_ROOT / "pids" / self.name / "pids.peak").read_text())
        except (OSError, ValueError):
            return None

    def __exit__(self, *_exc) -> None:
        if not self.made:
            return
        give_up = time.monotonic() + CGROUP_RELEASE_S
        for folder in CGROUP_ROOT.glob(f"*/{self.name}"):
            while True:
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # busy: a stopped step's container is being removed
                    if time.monotonic() >= give_up:
                        break
                    time.sleep(STOP_POLL_S / 2)


def remove_empty_build_cgroups() -> int:
    """Remove the build cgroups a grader killed outright left (`dockerlab clean`): only
    empty ones go (the kernel refuses to remove a cgroup that holds a process). How many
    were removed."""
    removed = 0
    for folder in CGROUP_ROOT.glob(f"*/{CGROUP_PREFIX}*"):
        try:
            folder.rmdir()
            removed += 1
        except OSError:
            pass  # in use by a build, or gone meanwhile
    return removed


def start_build(client: docker.DockerClient, request: BuildRequest, context: IO[bytes],
                cgroup_parent: str | None) -> requests.Response:
    """POST /build as the SDK's `build()` sends it, with what it cannot send (the cgroup
    parent) and its response kept, to be closed: closing it is the only cancel."""
    params: dict = {
        "t": request.tag,
        "dockerfile": INJECTED_DOCKERFILE if request.context_tar is None else "Dockerfile",
        "target": request.target,
        "nocache": request.no_cache,
        "rm": True,
        "forcerm": True,
        # No proxies of the grader's ~/.docker/config.json (with any credentials in them)
        # among the build args: the learner's steps could print them.
        "buildargs": json.dumps(request.build_args) if request.build_args else None,
        "labels": json.dumps(request.labels) if request.labels else None,
        "cgroupparent": cgroup_parent,
    }
    if request.limits is not None:
        params["memory"] = params["memswap"] = request.limits.memory_mb * MIB
    headers = {"Content-Type": "application/tar"}
    client.api._set_auth_headers(headers)  # as the SDK: registry logins, for FROM
    return client.api._post(
        client.api._url("/build"), data=context, params=params, headers=headers, stream=True,
        # Until the first step answers: the stopper can only close a stream it has.
        timeout=request.timeout_s + STOP_GRACE_S,
    )


def close_quietly(stream: CancellableStream) -> None:
    """Close a stream from another thread than its reader's (which then sees it end)."""
    try:
        stream.close()
    except (DockerException, OSError):
        pass  # an SSH engine's stream cannot be closed so: it ends with the engine's answer


def engine_saw_oom(client: docker.DockerClient, container: str, since: float) -> bool:
    """Whether the engine reported `container` killed for want of memory (its `oom` event;
    the exit code 137 alone would be any SIGKILL). Past events come at once; the stream is
    closed after OOM_EVENTS_WAIT_S."""
    events = client.api.events(since=since - ENGINE_CLOCK_SLACK_S, decode=True,
                               filters={"container": container, "event": "oom"})
    closer = threading.Timer(OOM_EVENTS_WAIT_S, close_quietly, (events,))
    closer.start()
    try:
        return next(events, None) is not None
    finally:
        closer.cancel()


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
    started, started_at = time.monotonic(), time.time()
    steps: list[BuildStep] = []
    log, lines = BoundedLog(), LineReader()
    image_id, error, error_code, limit_hit = None, "", None, None

    def take(line: str) -> None:
        log.append(line)
        on_line(line)
        follow_step(line, steps)
        if stop_when is not None and not stopper.asked.is_set() and stop_when(steps):
            stopper.stop()

    with tempfile.TemporaryFile() as context, \
            BuildStopper(client, steps, request.timeout_s, cancelled) as stopper, \
            StepCgroup(client, request.limits) as cgroup:
        try:
            if request.context_tar is None:
                limit_hit = pack_context(request, context, stopper.deadline)
            else:
                context.write(request.context_tar)
        except PackingTimedOut:
            stopper.expired.set()
        if limit_hit is None and not stopper.expired.is_set():
            context.seek(0)
            try:
                response = start_build(client, request, context, cgroup.parent)
                chunks = client.api._stream_helper(response, decode=True)
                # Read directly: the SDK's CancellableStream would end quietly on any OSError,
                # the engine's refusal (an APIError) too. It is the stopper's, to close.
                stopper.follow(CancellableStream(chunks, response))
                for chunk in chunks:
                    if "stream" in chunk:
                        for line in lines.feed(chunk["stream"]):
                            take(line)
                    elif "error" in chunk:
                        for line in lines.rest():
                            take(line)
                        error, error_code = cut(chunk["error"].strip()), error_code_of(chunk)
                        log.append(error)
                        on_line(error)
                    elif "aux" in chunk and "ID" in chunk["aux"]:
                        image_id = chunk["aux"]["ID"]
                for line in lines.rest():
                    take(line)
            except APIError as exc:
                error = cut(api_message(exc))
                log.append(error)
            except STREAM_CUT as exc:
                if not stopper.stopping:  # the engine broke it: the grader's problem
                    raise requests.ConnectionError(f"the build's stream broke: {exc}") from exc
            if image_id is None and not stopper.stopping and request.limits is not None:
                limit_hit = limit_reached(client, request.limits, steps, error_code, cgroup,
                                          started_at)
    if request.first_line_added:
        steps, error = without_added_first_line(steps, error)
    timed_out = stopper.expired.is_set()
    ok = image_id is not None and not error and not timed_out
    if timed_out:
        error = f"the build took longer than {request.timeout_s:.0f} s and was stopped"
    elif limit_hit is not None and limit_hit.bound in (Bound.CONTEXT_SIZE, Bound.CONTEXT_FILES):
        error = "the build context is beyond its limits and was not sent"
    elif stopper.stopping and not error:
        error = ("the grading was cancelled" if stopper.cancelled.is_set()
                 else "the build was stopped once the grader had seen enough")
    elif image_id is None and not error:
        error = "the builder ended without producing an image"
    return BuildOutcome(
        ok=ok,
        image_id=image_id if ok else None,
        steps=steps,
        log=log.lines(),
        error=error,
        timed_out=timed_out,
        stopped=stopper.asked.is_set(),
        duration_s=time.monotonic() - started,
        limit_hit=limit_hit,
        unlimited=f"no process limit: {cgroup.unavailable}" if cgroup.unavailable else "",
    )


def error_code_of(chunk: dict) -> int | None:
    code = (chunk.get("errorDetail") or {}).get("code")
    return code if isinstance(code, int) else None


def limit_reached(client: docker.DockerClient, limits: BuildLimits, steps: list[BuildStep],
                  error_code: int | None, cgroup: StepCgroup, since: float) -> LimitHit | None:
    """The limit a failed build's last step ran into, if the engine says so: killed (137)
    with an `oom` event for its container, or the steps' processes reached `pids.max`."""
    container = steps[-1].container if steps else None
    if container is None:  # not a step that ran a command
        return None
    if error_code == 137 and engine_saw_oom(client, container, since):
        return LimitHit(Bound.MEMORY, limits.memory_mb)
    peak = cgroup.peak()
    if cgroup.parent and peak is not None and peak >= limits.pids:
        return LimitHit(Bound.PROCESSES, limits.pids, peak)
    return None
