"""The lab network: `nat` is reused as the chapter does, unless a container that is not the
grader's already answers there to a name the lab's containers use."""

import uuid

import pytest

from grader.results import Status
from grader.engine import OWNER_LABEL

from .conftest import by_rule

pytestmark = pytest.mark.engine
TESTS = {OWNER_LABEL: "tests"}


@pytest.fixture
def nat(docker_client):
    """The network `nat`, created for the test (and removed after) when missing."""
    if any(n["Name"] == "nat" for n in docker_client.api.networks(names=["nat"])):
        yield "nat"
        return
    network = docker_client.networks.create("nat", driver="bridge", labels=TESTS)
    try:
        yield "nat"
    finally:
        network.remove()


def test_a_learners_own_container_answering_on_nat_moves_grading_aside(
    grade_submission, lab4, docker_client, nat
):
    # Following the chapter by hand, a learner may leave a container on nat that answers to
    # a name the grader's containers need; Docker's DNS would send calls to either.
    squatter = docker_client.containers.create(
        "diamol/base", ["sleep", "300"], name=f"dockerlab-test-squatter-{uuid.uuid4().hex[:8]}",
        labels=TESTS, network=nat,
        networking_config={nat: docker_client.api.create_endpoint_config(aliases=["greeter"])},
    )
    try:
        squatter.start()
        (lab,) = grade_submission(lab4.solution_dir, "lab").exercises
        run = by_rule(lab, "ML4-RUN")
        assert run.status is Status.PASSED
        assert "It ran on network nat-" in run.what and f"`greeter` ({squatter.name})" in run.what
        assert by_rule(lab, "ML4-HTTP").status is Status.PASSED
    finally:
        squatter.remove(force=True)
    # With nothing else answering there, nat itself is used.
    (lab,) = grade_submission(lab4.solution_dir, "lab").exercises
    run = by_rule(lab, "ML4-RUN")
    assert run.status is Status.PASSED and "ran on network" not in run.what
