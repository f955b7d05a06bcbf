"""The sandbox's builds against the real engine: stopping a build part-way, when the caller
has seen enough or when the build overruns its time."""

import uuid

import pytest

from grader.engine import BuildRequest
from tests.conftest import every_image

from .conftest import TAG_PREFIX

pytestmark = pytest.mark.engine


def sleeping_build(folder):
    """A Dockerfile whose second RUN would sleep ten minutes; its first RUN is never cached."""
    (folder / "Dockerfile").write_text(
        "FROM diamol/base\n"
        f"RUN echo {uuid.uuid4().hex} > /first\n"
        "RUN sleep 600\n"
        "RUN echo never > /third\n"
    )
    return folder / "Dockerfile"


def request(folder, tag: str, timeout_s: float) -> BuildRequest:
    dockerfile = sleeping_build(folder)
    return BuildRequest(folder, dockerfile.read_text(), tag, timeout_s=timeout_s)


def test_a_build_stops_once_the_caller_has_seen_enough(engine, docker_client,
                                                      leaves_nothing_behind, tmp_path):
    before = every_image(docker_client)
    with engine.session(owner="tests") as sandbox:
        built = sandbox.build(
            request(tmp_path, f"{TAG_PREFIX}stop:{sandbox.session}", timeout_s=300),
            throwaway=True,
            stop_when=lambda steps: len(steps) >= 3 and steps[2].container is not None,
        )
    assert built.stopped and not built.ok and not built.timed_out
    # The sleeping step was killed (it left no image) and the one after it never began.
    assert [step.number for step in built.steps] == [1, 2, 3]
    assert built.steps[1].result_id is not None and built.steps[2].result_id is None
    # Its first RUN's image went with the sandbox, as every throw-away build's do.
    assert every_image(docker_client) == before


def test_a_build_that_overruns_its_time_is_stopped_at_the_running_step(
    engine, docker_client, leaves_nothing_behind, tmp_path
):
    before = every_image(docker_client)
    with engine.session(owner="tests") as sandbox:
        built = sandbox.build(request(tmp_path, f"{TAG_PREFIX}slow:{sandbox.session}", 8),
                              throwaway=True)
    assert built.timed_out and not built.ok and not built.stopped
    assert "took longer than 8 s and was stopped" in built.error
    assert built.failing_step.instruction == "RUN sleep 600"
    assert [step.number for step in built.steps] == [1, 2, 3]
    assert every_image(docker_client) == before
