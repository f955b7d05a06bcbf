"""A learner's build within its bounds on the real engine (issue 9): a download or a pull
from a server on 127.0.0.1 that never finishes, a step that takes too much memory or starts
too many processes, a context too large, and a build that prints without end. Each ends in
an ML4-BUILD verdict that names the bound, within the time-out plus MARGIN_S, with nothing
labelled and none of the grader's cgroups left behind. All traffic stays on loopback.

Measured on Docker 20.10 (classic builder, cgroup v1, 2 cores): once the grader closes the
build's stream, the engine kills and removes the running step's container (0.3 s) and starts
no further step, but a download or a pull under way keeps its connection to the server until
the server ends it (the tarpits below hold it until the test ends them)."""

from __future__ import annotations

import os
import socketserver
import subprocess
import sys
import threading
import time
import tracemalloc
import uuid
from pathlib import Path

import pytest

from grader.engine import BuildRequest
from grader.engine import build as builds
from grader.engine.build import CGROUP_PREFIX, CGROUP_ROOT, BuildLimits, process_limit_route
from grader.pipeline.config import RunConfig
from grader.runner import grade
from tests.fake_engine import exercise, write_files, write_lab

from .conftest import TAG_PREFIX

pytestmark = pytest.mark.engine

TIMEOUT_S = 10
MARGIN_S = 5  # the stopper's grace (2 s) and its polling, on a busy machine
RUN = RunConfig(tag_prefix=TAG_PREFIX, no_cache=True)


class Tarpit(socketserver.ThreadingTCPServer):
    """A server on 127.0.0.1 that never finishes an answer: `silent` reads the request and
    says nothing; `drip` sends the headers of a 1 GB file, then a byte a second; `registry`
    answers a registry's ping, then sends the image's manifest a byte a second. Every
    connection ends when the server is closed."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, mode: str):
        super().__init__(("127.0.0.1", 0), TarpitHandler)
        self.mode = mode
        self.requests: list[bytes] = []
        self.closing = threading.Event()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def close(self) -> None:
        self.closing.set()
        self.shutdown()
        self.server_close()


class TarpitHandler(socketserver.BaseRequestHandler):
    server: Tarpit

    def handle(self) -> None:
        request = self.request.recv(65536)
        self.server.requests.append(request)
        mode = self.server.mode
        if mode == "registry":
            if request.startswith(b"\x16"):
                return  # a TLS hello: closed, the engine tries plain HTTP (127.0.0.1 is insecure)
            if request.startswith(b"GET /v2/ "):
                self.request.sendall(b"HTTP/1.1 200 OK\r\nDocker-Distribution-API-Version: "
                                     b"registry/2.0\r\nContent-Length: 0\r\n\r\n")
                return
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nContent-Type: "
                                 b"application/vnd.docker.distribution.manifest.v2+json\r\n\r\n")
            if request.startswith(b"HEAD "):
                return
        elif mode == "drip":
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n")
        while not self.server.closing.wait(1):
            if mode != "silent":
                self.request.sendall(b" ")


@pytest.fixture
def tarpit(request):
    server = Tarpit(request.param)
    yield server
    server.close()


@pytest.fixture(autouse=True)
def cgroups_made(monkeypatch):
    """The names of the cgroups this test's builds made; none may remain after it."""
    made: list[str] = []

    class Recorded(builds.StepCgroup):
        def __enter__(self):
            made.append(self.name)
            return super().__enter__()

    monkeypatch.setattr(builds, "StepCgroup", Recorded)
    yield made
    left = [str(path) for name in made for path in builds.CGROUP_ROOT.glob(f"*/{name}")]
    assert not left, f"cgroups left behind: {left}"


def graded_build(tmp_path: Path, engine, dockerfile: str, **build: object):
    """ML4-BUILD of a one-exercise lab (`app`, its Dockerfile app/Dockerfile), and how long
    the grading took."""
    lab = write_lab(tmp_path, exercise("app", build=build))
    write_files(tmp_path, {"app/Dockerfile": dockerfile})
    started = time.monotonic()
    result = grade(lab, tmp_path, engine, config=RUN)
    took = time.monotonic() - started
    (check,) = [check for check in result.exercises[0].checks if check.rule_id == "ML4-BUILD"]
    return check, took


@pytest.mark.parametrize("tarpit", ["silent", "drip"], indirect=True)
def test_a_download_that_never_ends_is_stopped_at_the_time_out(
        tarpit, tmp_path, engine, leaves_nothing_behind):
    source = f"http://127.0.0.1:{tarpit.port}/big.tar"
    check, took = graded_build(tmp_path, engine, f"FROM diamol/base\nADD {source} /big\n",
                               timeout_s=TIMEOUT_S)
    assert tarpit.requests, "the build never reached the tarpit"
    assert check.status.value == "failed"
    # The step count includes the grader's two labels, applied as last steps.
    assert check.what == f"The build was stopped after {TIMEOUT_S} s during step 2/4 " \
                         f"`ADD {source} /big`."
    assert TIMEOUT_S <= took < TIMEOUT_S + MARGIN_S


@pytest.mark.parametrize("tarpit", ["registry"], indirect=True)
def test_a_base_image_from_a_registry_that_never_answers_is_stopped_at_the_time_out(
        tarpit, tmp_path, engine, leaves_nothing_behind):
    image = f"127.0.0.1:{tarpit.port}/tarpit/app:{uuid.uuid4().hex[:8]}"
    check, took = graded_build(tmp_path, engine, f"FROM {image}\nCMD [\"/app\"]\n",
                               timeout_s=TIMEOUT_S)
    assert any(b"/manifests/" in request for request in tarpit.requests)
    assert check.status.value == "failed"
    assert f"stopped after {TIMEOUT_S} s during step 1/4 `FROM {image}`" in check.what
    assert TIMEOUT_S <= took < TIMEOUT_S + MARGIN_S


def test_a_step_beyond_the_memory_limit_fails_naming_it(tmp_path, engine, leaves_nothing_behind):
    # busybox dd fills a buffer of `bs` bytes: 300 MB against a 64 MB limit
    check, took = graded_build(tmp_path, engine,
                               "FROM diamol/base\nRUN dd if=/dev/zero of=/dev/null bs=300M count=1\n",
                               memory_mb=64)
    assert check.status.value == "failed"
    assert "the 64 MB of memory a build step may use (`build.memory_mb`)" in check.what
    assert "exit code 137" in check.what and took < TIMEOUT_S


def test_a_step_starting_thousands_of_processes_fails_naming_the_limit(
        tmp_path, engine, leaves_nothing_behind):
    unavailable = process_limit_route(engine.client)
    if unavailable:
        pytest.skip(f"build steps get no process limit on this engine: {unavailable}")
    check, took = graded_build(
        tmp_path, engine,
        "FROM diamol/base\nRUN i=0; while [ $i -lt 3000 ]; do sleep 60 & i=$((i+1)); done; wait\n",
        pids=100)
    assert check.status.value == "failed"
    assert "reached the 100 processes and threads a build's steps may run at once " \
           "(`build.pids`)" in check.what
    assert "can't fork" in check.details and took < TIMEOUT_S


def test_a_context_too_large_is_refused_before_it_is_sent(tmp_path, engine, leaves_nothing_behind):
    write_files(tmp_path, {"app/index.html": "<h1>hi</h1>\n"})
    with (tmp_path / "app" / "dataset.bin").open("wb") as sparse:
        sparse.truncate(4 * 1024**3)  # 4 GiB as tar would send it, no disk taken
    check, took = graded_build(tmp_path, engine, "FROM diamol/base\nCOPY . /site\n")
    assert check.status.value == "failed"
    assert "holds 4,097 MiB of files (after .dockerignore), more than a build may send " \
           "(`build.context_mb`: 512 MiB), so it was not built." in check.what
    assert took < 5  # measured, never packed: a 4 GiB tar takes longer to write


def test_a_build_that_prints_without_end_keeps_the_graders_memory_bounded(
        tmp_path, engine, leaves_nothing_behind):
    """64 MB of output, half in lines and half in one line with no line break. Measured with
    tracemalloc: the peak of the Python objects the build makes and keeps, which is what
    grows with a log (each line a str, kept in lists), unaffected by what this test process
    held before (ru_maxrss is its lifetime high-water mark); tests/integration/
    test_grader_memory.py measures a whole grading's resident memory."""
    loud = ("RUN yes 'a build that prints without end, line after line' | head -c 32000000 "
            "&& head -c 32000000 /dev/zero | tr '\\0' x")
    request = BuildRequest(tmp_path, f"FROM diamol/base\n{loud} # {uuid.uuid4().hex}\n",
                           tag=None, timeout_s=120,
                           limits=BuildLimits(memory_mb=256, pids=64, context_mb=1,
                                              context_files=10))
    with engine.session(owner="tests") as sandbox:
        tracemalloc.start()
        try:
            built = sandbox.build(request, throwaway=True)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert built.ok, built.error
    assert peak < 8 * 1024**2, f"{peak / 1024**2:.1f} MiB"  # before issue 9: about 2.5 bytes a byte
    log = "\n".join(built.log)
    assert "lines of the build's output left out" in log
    assert "more characters left out]" in log  # the one long line, cut
    assert len(log) < 2 * 1024**2


def test_clean_removes_the_empty_build_cgroups_a_killed_grader_left(tmp_path):
    """A grader killed outright in the middle of a build leaves its empty cgroup; `dockerlab
    clean` removes it, and never one that still holds a process."""
    pids = CGROUP_ROOT / "pids"
    if not os.access(pids, os.W_OK):
        pytest.skip("no writable cgroup v1 pids hierarchy here")
    empty, busy = pids / f"{CGROUP_PREFIX}left-by-test", pids / f"{CGROUP_PREFIX}busy-test"
    empty.mkdir()
    busy.mkdir()
    holder = subprocess.Popen(["sleep", "60"])
    try:
        (busy / "cgroup.procs").write_text(str(holder.pid))
        done = subprocess.run([sys.executable, "-m", "grader", "clean"], capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert not empty.exists() and busy.exists()
    finally:
        holder.kill()
        holder.wait()  # its cgroup is empty again
        for folder in (empty, busy):
            if folder.exists():
                folder.rmdir()
