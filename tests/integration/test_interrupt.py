"""Ctrl-C while containers run: the grader removes what it started and exits 130."""

import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import labelled

from .conftest import REPO, TAG_PREFIX

pytestmark = pytest.mark.engine


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_grading_leaves_nothing_behind(stop, docker_client, leaves_nothing_behind):
    grading = subprocess.Popen(
        [sys.executable, "-m", "grader", "grade", "lab4", "lab", "--solution", "--quiet",
         "--tag-prefix", TAG_PREFIX],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not labelled(docker_client, "grader") and time.monotonic() < deadline:
            assert grading.poll() is None, grading.communicate()
            time.sleep(0.2)
        assert labelled(docker_client, "grader"), "the grader never started a container"
        grading.send_signal(stop)
        _, stderr = grading.communicate(timeout=60)
    finally:
        if grading.poll() is None:
            grading.kill()
    assert grading.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert labelled(docker_client, "grader") == []
