"""A build's bounds without an engine (issue 9): the log kept within bounds whatever a build
prints, the context measured before it is packed, the stopper that ends a build whose step
has no container, where the process limit can be set, and the ML4-BUILD verdict that names
each figure. tests/integration/test_build_bounds.py runs them on the real engine."""

from __future__ import annotations

import io
import tarfile
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from grader.checks.build import BuildCheck
from grader.dockerfile import Dockerfile
from grader.engine import BuildOutcome, BuildRequest
from grader.engine import build as builds
from grader.engine.build import (
    INJECTED_DOCKERFILE,
    Bound,
    BuildLimits,
    BuildStopper,
    LimitHit,
    PackingTimedOut,
    pack_context,
    process_limit_unavailable,
)
from grader.engine.buildlog import (
    LINE_MAX_CHARS,
    STEP_OUTPUT_LINES,
    BoundedLog,
    BuildStep,
    LineReader,
    follow_step,
)
from grader.pipeline.facts import DockerfileFacts, Facts
from grader.pipeline.steps.build import BUILD, BuildFacts
from grader.spec import BuildSpec
from grader.runner import grade
from tests.fake_engine import FakeEngine, exercise, write_files, write_lab

MIB = 1024 * 1024
ROOMY = BuildLimits(memory_mb=2048, pids=1024, context_mb=512, context_files=50_000)
FAR_AWAY = time.monotonic() + 3600


# -- the log ----------------------------------------------------------------------------


def test_a_line_is_joined_across_the_chunks_the_builder_sends_it_in():
    reader = LineReader()
    assert reader.feed("Step 1/2 : FROM diamol/base") == []
    assert reader.feed("\n") == ["Step 1/2 : FROM diamol/base"]
    assert reader.feed("one\r\ntwo\rthr") == ["one", "two"]
    assert reader.feed("ee") == []
    assert reader.rest() == ["three"] and reader.rest() == []


def test_an_endless_line_is_cut_and_costs_no_more_memory_than_its_cap():
    reader = LineReader()
    tracemalloc.start()
    try:
        for _ in range(2_000):  # 64 MB without a line break, in the builder's 32 KiB pieces
            reader.feed("x" * 32 * 1024)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    (line,) = reader.feed("\nnext")
    assert line == "x" * LINE_MAX_CHARS + f" [... {2_000 * 32 * 1024 - LINE_MAX_CHARS:,} more characters left out]"
    assert peak < MIB
    assert reader.rest() == ["next"]


def test_the_log_keeps_its_head_and_tail_and_says_what_it_left_out():
    log = BoundedLog(head_lines=3, tail_lines=5, tail_chars=10)
    for number in range(1, 101):
        log.append(f"line {number:03}")  # 8 characters
    assert log.lines() == ["line 001", "line 002", "line 003",
                           "[... 96 lines of the build's output left out ...]", "line 100"]
    empty = BoundedLog(head_lines=0, tail_lines=5)
    for _ in range(100):
        empty.append("")  # no characters, yet not free
    assert empty.lines() == ["[... 95 lines of the build's output left out ...]"] + [""] * 5


def test_what_a_build_keeps_is_bounded_whatever_it_prints():
    """100,000 lines through the reader, the log and the step mapping, as run_build reads
    them: the kept lines stay within the log's bounds and the step's own."""
    reader, log, steps = LineReader(), BoundedLog(), []
    tracemalloc.start()
    try:
        for chunk in ["Step 1/1 : RUN yes\n", " ---> Running in 0123456789ab\n",
                      *(["y\n" * 1000] * 100)]:
            for line in reader.feed(chunk):
                log.append(line)
                follow_step(line, steps)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MIB
    assert len(steps[0].output) == STEP_OUTPUT_LINES
    assert "98,802 lines of the build's output left out" in "\n".join(log.lines())


def test_a_colour_reset_at_the_start_of_a_line_does_not_hide_the_builders_words():
    steps: list[BuildStep] = []
    for line in ["Step 1/2 : RUN make", " ---> Running in 0123456789ab",
                 "\x1b[91mwarning: on stderr", "\x1b[0mRemoving intermediate container 0123",
                 "\x1b[0m ---> fedcba987654", "Step 2/2 : CMD make"]:
        follow_step(line, steps)
    assert steps[0].result_id == "fedcba987654" and steps[0].container is None
    assert len(steps) == 2 and not steps[0].output  # released once the next step began


# -- the context -----------------------------------------------------------------------


def request_for(context: Path, limits: BuildLimits | None = ROOMY, exclude=()) -> BuildRequest:
    return BuildRequest(context, "FROM diamol/base\nCOPY . /app\n", None, exclude=exclude,
                        limits=limits)


def test_a_context_too_large_is_measured_before_anything_is_packed(tmp_path: Path):
    (tmp_path / "app.js").write_text("console.log('hi')\n")
    with (tmp_path / "data.bin").open("wb") as sparse:
        sparse.truncate(1024 * MIB)  # claims 1 GiB, as tar would send it; takes no disk
    packed = io.BytesIO()
    hit = pack_context(request_for(tmp_path), packed, FAR_AWAY)
    assert hit == LimitHit(Bound.CONTEXT_SIZE, 512, 1025)
    assert packed.getvalue() == b""
    # Left out by .dockerignore, it is not counted.
    assert pack_context(request_for(tmp_path, exclude=("*.bin",)), packed, FAR_AWAY) is None


def test_a_context_of_too_many_files_stops_the_walk_at_the_bound(tmp_path: Path):
    for number in range(30):
        (tmp_path / f"file{number}").write_text("x")
    few = BuildLimits(memory_mb=64, pids=64, context_mb=1, context_files=20)
    assert pack_context(request_for(tmp_path, few), io.BytesIO(), FAR_AWAY) == \
        LimitHit(Bound.CONTEXT_FILES, 20)


def test_a_context_within_bounds_is_packed_as_the_sdk_packs_it(tmp_path: Path):
    write_files(tmp_path, {"src/main.go": "package main\n", "notes.md": "mine\n"})
    packed = io.BytesIO()
    assert pack_context(request_for(tmp_path, exclude=("*.md",)), packed, FAR_AWAY) is None
    packed.seek(0)
    with tarfile.open(fileobj=packed) as tar:
        names = set(tar.getnames())
        ignore = tar.extractfile(".dockerignore").read().decode()
        dockerfile = tar.extractfile(INJECTED_DOCKERFILE).read().decode()
    assert names == {"src", "src/main.go", ".dockerignore", INJECTED_DOCKERFILE}
    assert ignore == f"*.md\n{INJECTED_DOCKERFILE}"  # keeps the injected file out of COPY
    assert dockerfile.startswith("FROM diamol/base")


def test_the_contexts_walk_ends_at_the_builds_deadline(tmp_path: Path):
    """Every path counts, kept or left out: past 100 .dockerignore patterns the SDK compiles
    each one again for every path (5,000 patterns took 0.3 s a file)."""
    (tmp_path / "file").write_text("x")
    with pytest.raises(PackingTimedOut):
        pack_context(request_for(tmp_path, exclude=("file",)), io.BytesIO(),
                     time.monotonic() - 1)


# -- the stopper and the process limit -------------------------------------------------


class Recorder:
    """A stand-in for the SDK's client (`api.kill`) and a build's stream (`close`)."""

    def __init__(self):
        self.api = self
        self.killed: list[str] = []
        self.closed_at: float | None = None

    def kill(self, container: str) -> None:
        self.killed.append(container)

    def close(self) -> None:
        self.closed_at = time.monotonic()


def test_a_step_with_no_container_is_stopped_by_closing_the_builds_stream(monkeypatch):
    """At the time-out the running step's container is killed; a step with none (a download,
    a pull) never ends, and the stream is closed after the grace the killed step has."""
    monkeypatch.setattr(builds, "STOP_GRACE_S", 0.3)
    engine = Recorder()
    steps = [BuildStep(1, 2, "FROM diamol/base"), BuildStep(2, 2, "RUN sleep 600")]
    steps[1].container = "0123456789ab"
    with BuildStopper(engine, steps, timeout_s=0.2) as stopper:
        stopper.follow(engine)
        started = time.monotonic()
        while engine.closed_at is None and time.monotonic() - started < 5:
            time.sleep(0.05)
    assert stopper.expired.is_set() and "0123456789ab" in engine.killed
    assert engine.closed_at is not None and stopper.closed


def test_a_cancelled_build_is_stopped_without_waiting_for_its_time_out(monkeypatch):
    monkeypatch.setattr(builds, "STOP_GRACE_S", 0)
    engine, cancelled = Recorder(), threading.Event()
    with BuildStopper(engine, [], timeout_s=3600, cancelled=cancelled) as stopper:
        stopper.follow(engine)
        cancelled.set()
        time.sleep(4 * builds.STOP_POLL_S)
    assert engine.closed_at is not None and not stopper.expired.is_set()


@pytest.mark.parametrize("info, host, may_make, reason", [
    ({"Name": "vm", "CgroupVersion": "1", "CgroupDriver": "cgroupfs"}, "vm", True, ""),
    ({"Name": "docker-desktop", "CgroupVersion": "2", "CgroupDriver": "cgroupfs"}, "laptop", True,
     "another machine or in a VM"),
    ({"Name": "ci", "CgroupVersion": "2", "CgroupDriver": "systemd"}, "ci", True,
     "cgroup v2 with the systemd driver"),
    ({"Name": "vm", "CgroupVersion": "1", "CgroupDriver": "cgroupfs"}, "vm", False, "not root"),
])
def test_the_process_limit_is_set_only_where_the_grader_can_make_the_engines_cgroups(
        info, host, may_make, reason):
    found = process_limit_unavailable(info, host, may_make)
    assert reason in found if reason else found == ""


# -- the lab spec and the verdict ------------------------------------------------------


def test_a_labs_build_limits_reach_the_build_request(tmp_path: Path):
    lab = write_lab(tmp_path, exercise("app", build={"memory_mb": 3072, "pids": 2048}))
    write_files(tmp_path, {"app/Dockerfile": "FROM diamol/base\n"})
    engine = FakeEngine()
    grade(lab, tmp_path, engine)
    (call,) = engine.sandboxes[0].made("build", "app")
    assert call.args["request"].limits == BuildLimits(3072, 2048, 512, 50_000)
    assert call.args["request"].timeout_s == BuildSpec().timeout_s == 300


def judged(tmp_path: Path, outcome: BuildOutcome):
    lab = write_lab(tmp_path, exercise("app"))
    text = "FROM diamol/base\nRUN make\n"
    dockerfile = DockerfileFacts(tmp_path / "app" / "Dockerfile", "app/Dockerfile", text,
                                 DockerfileFacts.digest(text.encode()),
                                 parsed=Dockerfile.from_text(text))
    build = BuildFacts("dockerlab/app", 300, outcome)
    facts = Facts(lab, lab.exercises[0], tmp_path, dockerfile, {BUILD: build})
    return BuildCheck().judge(facts)


def failed_at_run(hit: LimitHit | None, error: str, unlimited: str = "") -> BuildOutcome:
    steps = [BuildStep(1, 2, "FROM diamol/base"), BuildStep(2, 2, "RUN make")]
    steps[1].output.extend([" ---> Running in 0123456789ab", "make: forking"])
    return BuildOutcome(False, None, steps, [], error=error, limit_hit=hit, unlimited=unlimited)


@pytest.mark.parametrize("hit, error, says", [
    (LimitHit(Bound.MEMORY, 64), "returned a non-zero code: 137",
     ["Step 2/2 `RUN make` was stopped", "the 64 MB of memory a build step may use "
      "(`build.memory_mb`)", "exit code 137", "docker run --memory 64m"]),
    (LimitHit(Bound.PROCESSES, 100, 100), "returned a non-zero code: 2",
     ["Step 2/2 `RUN make` failed", "reached the 100 processes and threads",
      "(`build.pids`)", "returned a non-zero code: 2", "one after another"]),
])
def test_a_step_beyond_its_limit_fails_naming_the_limit(tmp_path: Path, hit, error, says):
    outcome = judged(tmp_path, failed_at_run(hit, error))
    assert not outcome.passed and str(outcome.location) == "app/Dockerfile:2"
    text = "\n".join([outcome.what, outcome.fix])
    assert all(part in text for part in says), text
    assert "make: forking" in outcome.details


@pytest.mark.parametrize("hit, says", [
    (LimitHit(Bound.CONTEXT_SIZE, 512, 1025),
     "holds 1,025 MiB of files (after .dockerignore), more than a build may send "
     "(`build.context_mb`: 512 MiB), so it was not built."),
    (LimitHit(Bound.CONTEXT_FILES, 50_000),
     "holds more than 50,000 files and folders (after .dockerignore), more than a build may "
     "send (`build.context_files`: 50,000), so it was not built."),
])
def test_a_context_beyond_its_limit_is_not_built_and_the_verdict_names_it(tmp_path, hit, says):
    outcome = judged(tmp_path, BuildOutcome(False, None, [], [], limit_hit=hit,
                                            error="the build context is beyond its limits"))
    assert not outcome.passed and says in outcome.what and ".dockerignore" in outcome.fix


def test_a_failing_step_says_when_this_engine_ran_it_without_a_process_limit(tmp_path):
    unlimited = "no process limit: the engine runs on another machine or in a VM"
    outcome = judged(tmp_path, failed_at_run(None, "returned a non-zero code: 1", unlimited))
    assert outcome.details.endswith(f"(The build's steps ran with {unlimited}.)")
    limited = judged(tmp_path, failed_at_run(None, "returned a non-zero code: 1"))
    assert "process limit" not in limited.details
