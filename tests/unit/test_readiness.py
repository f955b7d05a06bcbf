"""Readiness in seconds: a container that runs but does not answer is looked at from outside
after a grace period (what it listens on, whether it uses CPU). Idle, or listening elsewhere,
it fails at once with the reason; busy, it gets the whole time-out and the message says how
long the grader waited. An app that answers in time is never looked at.

The run step's clock is a fake one here (sleeping moves it on at once), so a 60 s time-out
takes no time; the fake engine's CPU use follows that clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.engine import Listener
from grader.engine.containers import listeners
from grader.pipeline.steps import run as run_step
from grader.results import CheckResult, Status
from grader.runner import grade
from tests.fake_engine import (
    Answers,
    FakeEngine,
    Recorded,
    Silent,
    exercise,
    service,
    write_files,
    write_lab,
)

GO_WRONG_PORT = """\
FROM diamol/golang AS builder
WORKDIR /src
COPY main.go .
RUN go build -o /server
FROM diamol/base
ENV PORT=8080
EXPOSE 80
CMD ["/web/server"]
COPY --from=builder /server /web/server
"""
CMD_LINE, ENV_LINE = 8, 6
LOG = "starting\nlistening on :8080\n"


class FakeClock:
    """The run step's clock: sleeping moves it on at once."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(run_step, "time", fake)
    return fake


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DOCKERLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)


def ran(tmp_path: Path, behaviour, timeout_s: float = 60,
        **ready) -> tuple[CheckResult, FakeEngine]:
    """ML4-RUN of one exercise whose container behaves so, and the engine that ran it."""
    write_files(tmp_path, {"app/main.go": "package main\n", "app/Dockerfile": GO_WRONG_PORT})
    engine = FakeEngine({"app": Recorded(service=behaviour)})
    run = service("web", ready={"path": "/health", "timeout_s": timeout_s, **ready})
    lab = write_lab(tmp_path, exercise("app", run=run))
    (result,) = [check for check in grade(lab, tmp_path, engine).exercises[0].checks
                 if check.rule_id == "ML4-RUN"]
    return result, engine


def looks(engine: FakeEngine) -> int:
    return len(engine.sandboxes[0].made("listening"))


def seconds_in(what: str, before: str) -> float:
    """The figure just before `before` in a message: "3.0 s after it started" -> 3.0."""
    return float(what.split(before)[0].split()[-1])


def test_an_idle_container_listening_nowhere_fails_at_the_first_look(tmp_path, clock):
    result, engine = ran(tmp_path, Silent(logs=LOG))

    assert result.status is Status.FAILED
    assert result.what == (
        "web did not answer GET /health on container port 80: 3.0 s after it started, it "
        "listens on no TCP port and is idle (CPU 0 %): its command does not start the server.")
    assert "CMD" in result.fix and "`sleep`" in result.fix
    assert result.location.line == CMD_LINE  # its command: the learner's CMD
    assert result.details == LOG.strip()  # the container's last lines
    assert looks(engine) == 1 and clock.now - 1000 < 3.5  # not the 60 s time-out


def test_an_app_on_another_port_is_named_with_its_port(tmp_path, clock):
    result, engine = ran(tmp_path, Silent(logs=LOG, listening=(Listener(8080, "::"),)))

    assert result.status is Status.FAILED
    assert result.what == (
        "web did not answer GET /health on container port 80: 3.0 s after it started, nothing "
        "listens on port 80; it listens on port 8080 (idle, CPU 0 %).")
    assert "listens on port 8080, the lab calls port 80" in result.fix
    assert result.location.line == ENV_LINE  # `ENV PORT=8080` set it
    assert looks(engine) == 1


def test_a_busy_app_on_another_port_is_named_at_the_second_look(tmp_path, clock):
    """Busy, it might still be starting its real server: a second look confirms."""
    result, engine = ran(tmp_path, Silent(listening=(Listener(8080, "0.0.0.0"),), busy=True))

    assert result.status is Status.FAILED
    assert "4.5 s after it started, nothing listens on port 80; it listens on port 8080 " \
           "(CPU 100 %)." in result.what
    assert looks(engine) == 2


def test_listening_on_localhost_only_is_told_apart(tmp_path, clock):
    result, _ = ran(tmp_path, Silent(listening=(Listener(80, "127.0.0.1"),)))

    assert result.status is Status.FAILED
    assert "it listens on port 80 on 127.0.0.1:80 only, which nothing outside the container " \
           "can reach" in result.what
    assert "0.0.0.0" in result.fix


def test_a_busy_container_gets_the_whole_time_out_and_says_how_long(tmp_path, clock):
    result, engine = ran(tmp_path, Silent(logs=LOG, busy=True), timeout_s=60)

    assert result.status is Status.FAILED
    assert result.what.startswith(
        "web did not answer GET /health on container port 80 within 60 s "
        "(last: ConnectionError). It waited ")
    assert 60 <= seconds_in(result.what, " s; at ") < 60.5  # the whole time-out, and says so
    assert result.what.endswith("it was busy (CPU 100 %) and listened on no TCP port.")
    assert "still busy" in result.fix
    assert result.details == LOG.strip()
    # Looks grow sparser while it stays busy: a helper container every few seconds, not 600.
    assert 5 <= looks(engine) <= 15, looks(engine)
    assert clock.now - 1000 == pytest.approx(60, abs=0.2)


def test_a_container_that_cannot_be_looked_at_gets_the_whole_time_out(tmp_path, clock):
    """No helper image on the engine (or the look failed): no early verdict on a guess."""
    result, _ = ran(tmp_path, Silent(listening=None), timeout_s=10)

    assert result.status is Status.FAILED
    assert result.what.endswith("within 10 s (last: ConnectionError). It waited 10.0 s; the "
                                "container was idle (CPU 0 %).")


def test_an_app_that_answers_in_time_is_never_looked_at(tmp_path, clock):
    result, engine = ran(tmp_path, Answers())

    assert result.status is Status.PASSED
    sandbox = engine.sandboxes[0]
    assert sandbox.made("listening") == [] and sandbox.made("cpu_seconds") == []


def test_an_app_still_starting_is_not_failed_early(tmp_path, monkeypatch):
    """Busy and listening nowhere yet at every look (a JVM starting): it gets its time."""
    monkeypatch.setattr(run_step, "POLL_S", 0.005)
    monkeypatch.setattr(run_step, "GRACE_S", 0.05)
    monkeypatch.setattr(run_step, "LOOK_EVERY_S", 0.05)
    result, engine = ran(tmp_path, Answers(up_after_s=0.4), timeout_s=5)

    assert result.status is Status.PASSED, result.what
    assert looks(engine) >= 2  # looked at, and let be


def test_without_an_http_probe_nothing_is_looked_at(tmp_path, monkeypatch):
    monkeypatch.setattr(run_step, "SETTLE_S", 0.02)
    write_files(tmp_path, {"app/main.go": "package main\n", "app/Dockerfile": GO_WRONG_PORT})
    engine = FakeEngine({"app": Recorded(service=Silent())})
    lab = write_lab(tmp_path, exercise("app", run={"name": "web"}))
    grade(lab, tmp_path, engine)
    assert looks(engine) == 0


# --- the kernel's socket tables, as the helper container prints them -----------------------

PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1
   2: 020012AC:1F90 010012AC:D431 01 00000000:00000000 00:00000000 00000000     0        0 3 1
   3: 0B00007F:A2D3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7 1
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0051 00000000000000000000000000000000:0000 0A 0 0 0 0 0 4 1
   1: 00000000000000000000000001000000:0052 00000000000000000000000000000000:0000 0A 0 0 0 0 0 5 1
   2: 0000000000000000FFFF00000100007F:0053 00000000000000000000000000000000:0000 0A 0 0 0 0 0 6 1
"""


def test_listeners_are_read_from_the_kernel_tables():
    found = listeners(PROC_NET_TCP)

    assert [(str(listener), listener.loopback_only) for listener in found] == [
        ("127.0.0.1:80", True),
        ("[::]:81", False),
        ("[::1]:82", True),
        ("127.0.0.1:83", True),  # IPv4-mapped, shown as IPv4
        ("0.0.0.0:8080", False),  # the established connection (state 01) is not listed
    ]  # nor the engine's DNS server, 127.0.0.11, on a user-defined network


def test_no_tables_no_listeners():
    assert listeners("") == ()
