"""Ctrl-C while containers run: the grader removes what it started and exits 130; killed
outright, it leaves things that `dockerlab clean` removes."""

import os
import signal
import subprocess
import sys
import time

import pytest

from grader.engine import OWNER_LABEL
from tests.conftest import labelled

from .conftest import REPO, TAG_PREFIX

pytestmark = pytest.mark.engine
# Its container is busy and never listens, so the grader waits (up to a minute) with the
# container running (an idle one, or one on the wrong port, fails in seconds: ML4-RUN.md).
NEVER_READY = REPO / "tests" / "submissions" / "ready-busy"


def start_grading(**environment) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "grader", "grade", "lab4", "lab", "--path", str(NEVER_READY),
         "--quiet", "--tag-prefix", TAG_PREFIX],
        cwd=REPO, env={**os.environ, **environment}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )


def wait_for_its_container(client, grading: subprocess.Popen, and_probe_image=False) -> None:
    """Until the grader runs a container (and, if asked, its cache probe has made an image:
    the container starts while the probe rebuilds)."""
    deadline = time.monotonic() + 300
    while not running_containers(client) or (and_probe_image and not probe_images(client)):
        assert grading.poll() is None, grading.communicate()
        assert time.monotonic() < deadline, "the grader never started a container"
        time.sleep(0.2)


def settled_leftovers(client) -> list[str]:
    """What a killed grading left, once the engine has finished on its own: the build step
    that was running when the grader died has its temporary container removed by the engine
    a moment later, which is not a leftover of ours."""
    previous, deadline = None, time.monotonic() + 30
    while time.monotonic() < deadline:
        current = sorted(labelled(client, "grader"))
        if current == previous:
            return current
        previous = current
        time.sleep(1.0)
    return previous


def probe_images(client) -> list[str]:
    return [item for item in labelled(client, "grader") if item.startswith("sha256:")]


def running_containers(client) -> list[str]:
    filters = {"label": [f"{OWNER_LABEL}=grader"], "status": "running"}
    return [item["Id"] for item in client.api.containers(filters=filters)]


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_grading_leaves_nothing_behind(stop, docker_client, leaves_nothing_behind):
    grading = start_grading()
    try:
        wait_for_its_container(docker_client, grading)
        grading.send_signal(stop)
        _, stderr = grading.communicate(timeout=60)
    finally:
        if grading.poll() is None:
            grading.kill()
    assert grading.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert labelled(docker_client, "grader") == []


def test_clean_removes_what_a_killed_grading_left(docker_client, leaves_nothing_behind, tmp_path):
    # A fresh outcome memo makes the cache probe run, so its throw-away image exists too.
    grading = start_grading(DOCKERLAB_CACHE=str(tmp_path))
    try:
        wait_for_its_container(docker_client, grading, and_probe_image=True)
    finally:
        grading.kill()  # SIGKILL: no chance to clean up
        grading.communicate()
    left = settled_leftovers(docker_client)
    assert running_containers(docker_client)
    assert any(item.startswith("sha256:") for item in left), f"no probe image in {left}"

    cleaned = subprocess.run([sys.executable, "-m", "grader", "clean"], cwd=REPO,
                             capture_output=True, text=True, timeout=120)
    assert cleaned.returncode == 0, cleaned.stderr
    assert f"removed {len(left)} leftover" in cleaned.stdout, left
    assert labelled(docker_client, "grader") == []
