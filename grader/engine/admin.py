"""What the base-image set-up (`grader.infra`) needs from the engine: what an image is, a
bounded pull, a root filesystem import, builds of the grader's own contexts (through the
one build loop), tool probes in throw-away containers, removals, and Docker's data root.

A refusal the caller must tell apart (a pull that fails offline, an import or build that
runs out of disk space) comes back as a value in the engine's own words; any other SDK
failure leaves as `EngineError`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from docker.errors import APIError, ContainerError, DockerException, ImageNotFound

from grader.engine.build import BuildOutcome, BuildRequest, LineSink, run_build
from grader.engine.connection import Engine
from grader.engine.errors import api_message, translated
from grader.engine.session import OWNER_LABEL

DEFAULT_DATA_ROOT = "/var/lib/docker"


@dataclass(frozen=True)
class StoredImage:
    """An image the engine holds, as the base-image set-up sees it."""

    id: str
    labels: dict[str, str]
    size_bytes: int
    from_registry: bool  # the engine remembers a registry digest (pulled, not built here)


@translated("inspecting a base image")
def stored_image(engine: Engine, ref: str) -> StoredImage | None:
    """The image `ref` names, or None when the engine has none by that name."""
    try:
        attrs = engine.client.api.inspect_image(ref)
    except ImageNotFound:
        return None
    return StoredImage(
        id=attrs["Id"],
        labels=(attrs.get("Config") or {}).get("Labels") or {},
        size_bytes=int(attrs.get("Size") or 0),
        from_registry=bool(attrs.get("RepoDigests")),
    )


@translated("pulling base images")
def pull(engine: Engine, images: list[str], timeout_s: float) -> dict[str, str]:
    """Pull every image (`:latest`) at once, waiting `timeout_s` at most; for each image
    that did not arrive, why not ("no answer in time", "not found" or the registry's words)."""
    failures: dict[str, str] = {}

    def pull_one(image: str) -> None:
        try:
            engine.client.api.pull(image, tag="latest")
        except (DockerException, requests.RequestException) as exc:
            failures[image] = api_message(exc)

    # A registry that never answers must not hold us: the threads are left to finish alone.
    threads = [threading.Thread(target=pull_one, args=(image,), daemon=True) for image in images]
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    missing = {}
    for image, thread in zip(images, threads, strict=True):
        # The pull API reports most failures inside a 200 reply: only the image proves success.
        if not thread.is_alive() and stored_image(engine, image) is not None:
            continue
        missing[image] = failures.get(image, "no answer in time" if thread.is_alive() else "not found")
    return missing


@translated("importing a root filesystem")
def import_tarball(engine: Engine, tarball: Path, image: str, changes: list[str]) -> str:
    """`docker import` of a root filesystem tarball as `image` (repository:tag) with the
    Dockerfile-like `changes`; the engine's refusal in its own words, "" when imported."""
    repository, tag = image.split(":")
    try:
        engine.client.api.import_image_from_file(
            str(tarball), repository=repository, tag=tag, changes=changes
        )
    except APIError as exc:
        return api_message(exc)
    return ""


@translated("building a base image")
def build_context(
    engine: Engine,
    context: bytes,
    *,
    tag: str | None = None,
    labels: dict[str, str] | None = None,
    timeout_s: float,
    on_line: LineSink = lambda _line: None,
) -> BuildOutcome:
    """Build a ready context (a tar holding its own `Dockerfile`), untagged unless `tag`."""
    request = BuildRequest(
        context_dir=Path(),  # unused: the context is `context_tar`
        dockerfile_text="",
        tag=tag,
        labels=labels or {},
        timeout_s=timeout_s,
        context_tar=context,
    )
    return run_build(engine.client, request, on_line)


@translated("probing a base image's tools")
def probe(engine: Engine, image: str, command: str) -> str | None:
    """What `sh -c command` prints in a throw-away container of `image` (no network,
    labelled as the grader's, removed); None when it cannot run or fails."""
    try:
        output = engine.client.containers.run(
            image, ["sh", "-c", command], remove=True, network_disabled=True,
            stdout=True, stderr=True, labels={OWNER_LABEL: "grader"},
        )
    except (ContainerError, APIError):
        return None
    return output.decode(errors="replace")


@translated("removing an image")
def remove_image(engine: Engine, image_id: str) -> None:
    """Remove an image and its untagged parents, unless something still uses it."""
    try:
        engine.client.api.remove_image(image_id)
    except APIError:  # gone already (ImageNotFound), or in use
        pass


def data_root(engine: Engine) -> str:
    """Docker's data root as the engine names it (the default when it will not say); on this
    machine only when `engine.is_local_socket`."""
    try:
        return engine.client.info().get("DockerRootDir", DEFAULT_DATA_ROOT)
    except (DockerException, requests.RequestException):
        return DEFAULT_DATA_ROOT
