"""The sandbox's builds against the real engine: stopping a build part-way."""

import uuid

import pytest

from grader.sandbox import Sandbox

from .conftest import TAG_PREFIX

pytestmark = pytest.mark.engine


def test_a_build_stops_once_the_caller_has_seen_enough(docker_client, leaves_nothing_behind,
                                                      tmp_path):
    (tmp_path / "Dockerfile").write_text(
        "FROM diamol/base\n"
        f"RUN echo {uuid.uuid4().hex} > /first\n"  # new each time: never from cache
        "RUN sleep 600\n"
        "RUN echo never > /third\n"
    )
    every_image = lambda: {image["Id"] for image in docker_client.api.images(all=True)}  # noqa: E731
    before = every_image()
    with Sandbox(docker_client, owner="tests") as sandbox:
        built = sandbox.build(
            tmp_path, tmp_path / "Dockerfile", f"{TAG_PREFIX}stop:{sandbox.session}",
            throwaway=True, timeout_s=300,
            stop_when=lambda steps: len(steps) >= 3 and steps[2].container is not None,
        )
    assert built.stopped and not built.ok and not built.timed_out
    # The sleeping step was killed (it left no image) and the one after it never began.
    assert [step.number for step in built.steps] == [1, 2, 3]
    assert built.steps[1].result_id is not None and built.steps[2].result_id is None
    # Its first RUN's image went with the sandbox, as every throw-away build's do.
    assert every_image() == before
