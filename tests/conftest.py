"""Shared fixtures: a real engine (started by `make test` through `make engine`), and a
guard that every test leaves no labelled container, network or image behind."""

import pytest

from grader.engine import OWNER_LABEL


@pytest.fixture(autouse=True)
def _reports_link_to_local_docs(monkeypatch):
    """A developer's DOCKERLAB_DOCS_URL would turn the docs links the tests read into URLs."""
    monkeypatch.delenv("DOCKERLAB_DOCS_URL", raising=False)


@pytest.fixture(scope="session")
def engine():
    from grader.infra.engine import ensure_engine

    return ensure_engine()


@pytest.fixture(scope="session")
def docker_client(engine):
    """The SDK's client, to look at the engine from outside the grader."""
    return engine.client


def labelled(client, owner: str) -> list[str]:
    filters = {"label": [f"{OWNER_LABEL}={owner}"]}
    containers = [c["Names"][0] for c in client.api.containers(all=True, filters=filters)]
    networks = [n["Name"] for n in client.api.networks(filters=filters)]
    images = [i["Id"] for i in client.api.images(filters=filters)]
    return containers + networks + images


def every_image(client) -> set[str]:
    """The IDs of every image the engine holds, intermediate layers of builds included."""
    return {image["Id"] for image in client.api.images(all=True)}


@pytest.fixture
def leaves_nothing_behind(docker_client):
    """Asserts after the test that no grader- or test-labelled container, network or image
    remains (the learner's images carry no owner label: they are kept)."""
    before = {owner: set(labelled(docker_client, owner)) for owner in ("grader", "tests")}
    yield
    for owner, existing in before.items():
        left = set(labelled(docker_client, owner)) - existing
        assert not left, f"left behind with {OWNER_LABEL}={owner}: {sorted(left)}"
