"""Readiness in seconds, against the real engine: a container that runs but never listens
on the lab's port fails within seconds, naming what it does listen on; a busy one gets the
whole time-out and the message says how long the grader waited. The lab here is lab 4's
`lab` exercise with only its build and run checks, so a grading's time is the build's plus
the readiness's."""

import time

import pytest

from grader.engine import Sandbox
from grader.results import Status
from grader.runner import grade

from .conftest import SUBMISSIONS, TEST_RUN, by_rule

pytestmark = pytest.mark.engine

IN_SECONDS = 10  # the verdict on a container that never listens, from its start


def run_only(lab4, timeout_s: float | None = None):
    """Lab 4 with its `lab` exercise alone, judged on its build and run only."""
    exercise = lab4.exercise("lab")
    run = exercise.run
    if timeout_s is not None:
        run = run.model_copy(update={"ready": run.ready.model_copy(update={"timeout_s": timeout_s})})
    exercise = exercise.model_copy(update={"run": run, "checks": []})
    return lab4.model_copy(update={"exercises": [exercise]})


@pytest.fixture
def grade_run(lab4, engine, leaves_nothing_behind):
    def run(folder: str, timeout_s: float | None = None):
        lab = run_only(lab4, timeout_s)
        result = grade(lab, SUBMISSIONS / folder, engine, ["lab"], config=TEST_RUN)
        (exercise,) = result.exercises
        return result, by_rule(exercise, "ML4-BUILD"), by_rule(exercise, "ML4-RUN")

    return run


def seconds_in(what: str, before: str) -> float:
    """The figure just before `before` in a message: "3.2 s after it started" -> 3.2."""
    return float(what.split(before)[0].split()[-1])


def assert_quick(result, build, run) -> None:
    """The verdict came in seconds: as the message says, as the check took, as the whole
    grading took once the image was built."""
    __tracebackhide__ = True
    assert seconds_in(run.what, " s after it started") < IN_SECONDS, run.what
    assert run.duration_s < IN_SECONDS, run.duration_s
    assert result.duration_s - build.duration_s < IN_SECONDS, (result.duration_s, build.duration_s)


def test_a_container_that_never_listens_fails_in_seconds(grade_run):
    result, build, run = grade_run("ready-sleeps")

    assert build.status is Status.PASSED
    assert run.status is Status.FAILED
    assert "it listens on no TCP port and is idle (CPU " in run.what
    assert "its command does not start the server." in run.what
    assert run.location.line == 13  # CMD ["sleep", "3600"]
    assert "`sleep`" in run.fix
    assert_quick(result, build, run)


def test_an_app_on_another_port_is_named_in_seconds(grade_run):
    """A FROM scratch image (no shell in it): its sockets are read from outside."""
    result, build, run = grade_run("ready-other-port")

    assert run.status is Status.FAILED
    assert "nothing listens on port 80; it listens on port 8081" in run.what
    assert "listens on port 8081, the lab calls port 80" in run.fix
    assert run.location.line == 9  # ENV USER=sixeyed \ PORT=8081
    assert "greeter listening on :8081" in run.details  # the container's last lines
    assert_quick(result, build, run)


def test_a_busy_container_gets_the_whole_time_out_and_says_so(grade_run):
    result, _, run = grade_run("ready-busy", timeout_s=8)

    assert run.status is Status.FAILED
    assert "within 8 s (last: ConnectionError). It waited " in run.what
    assert 8 <= seconds_in(run.what, " s; at ") < 8 + IN_SECONDS / 2, run.what
    assert "it was busy (CPU" in run.what and "listened on no TCP port" in run.what
    assert "warming up" in run.details


def test_looking_at_a_container_leaves_nothing_behind(engine, docker_client,
                                                     leaves_nothing_behind):
    with Sandbox(engine, owner="tests") as sandbox:
        api = docker_client.api
        server = api.create_container("diamol/base", ["httpd", "-f", "-p", "8081"],
                                      labels=sandbox.labels)["Id"]
        api.start(server)
        deadline = time.monotonic() + 10
        while not (listening := sandbox.listening(server)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [(found.port, found.loopback_only) for found in listening] == [(8081, False)]
        assert sandbox.cpu_seconds(server) is not None
        # Only the server: each helper is removed once it has looked.
        mine = {"label": [f"dockerlab.session={sandbox.session}"]}
        assert [item["Id"] for item in api.containers(all=True, filters=mine)] == [server]
        api.kill(server)
        assert sandbox.listening(server) is None  # stopped: nothing to look at
