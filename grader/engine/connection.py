"""Reaching an engine: `connect()` returns an `Engine` when the one `DOCKER_HOST` (or the
default socket) names answers, and says why not otherwise."""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

import docker
from docker.errors import APIError, DockerException, NotFound

from grader.dockerfile import platform_args
from grader.engine.errors import translated
from grader.errors import EngineUnavailable

DEFAULT_SOCKET = Path("/var/run/docker.sock")
PING_TIMEOUT_S = 5
API_TIMEOUT_S = 600  # builds of the SDK images stream for minutes


class Engine:
    """One Docker engine the grader talks to.

    `client` is the SDK's, for this package's modules (and for tests and benchmarks, which
    check the engine from outside); the rest of the grader uses `Sandbox` and `admin`.
    """

    def __init__(self, client: docker.DockerClient):
        self.client = client

    @functools.cached_property
    def version(self) -> dict:
        return self.client.version()

    @functools.cached_property
    def info(self) -> dict:
        return self.client.info()

    @functools.cached_property
    def platform_args(self) -> dict[str, str]:
        """BuildKit's automatic platform args for this engine, for the classic builder."""
        return platform_args(self.version.get("Os") or "linux", self.version.get("Arch") or "amd64")

    def session(self, owner: str = "grader"):
        """A grading session on this engine (a Sandbox), labelled with `owner`."""
        from grader.engine.session import Sandbox

        return Sandbox(self, owner)

    @translated("removing image tags")
    def untag(self, tags: list[str]) -> None:
        """Remove these tags. An image loses only the tag while another tag or a container
        still uses it (another learner's identical image, being graded), and is deleted,
        with the build steps only it used, once nothing does."""
        for tag in tags:
            try:
                self.client.api.remove_image(tag)
            except NotFound:
                pass  # never built (the build failed), or gone already
            except APIError as exc:
                if exc.status_code != 409:  # 409: in use by a container; the tag stays
                    raise

    @property
    def is_local_socket(self) -> bool:
        return self.client.api.base_url == "http+docker://localhost"  # docker-py's unix socket


def connect(timeout: float = API_TIMEOUT_S) -> Engine:
    """The engine `DOCKER_HOST` (or the default socket) names, if it answers."""
    try:
        # A short ping first: a socket nobody serves must not hang us for the build timeout.
        client = docker.from_env(timeout=PING_TIMEOUT_S)
        client.ping()
    except DockerException as exc:
        raise EngineUnavailable(describe_silence(exc), hint=how_to_start_docker()) from exc
    client.api.timeout = timeout
    return Engine(client)


def describe_silence(exc: Exception) -> str:
    if not os.environ.get("DOCKER_HOST") and not DEFAULT_SOCKET.exists():
        return f"No Docker engine is running (there is no socket at {DEFAULT_SOCKET})."
    if "Permission denied" in str(exc):
        return f"You may not use the Docker socket at {engine_address()} (permission denied)."
    return (
        f"The Docker socket {engine_address()} is there, but no engine answers on it "
        f"({short(exc)})."
    )


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or f"unix://{DEFAULT_SOCKET}"


def short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1][:200] if text else type(exc).__name__


def how_to_start_docker() -> str:
    system = platform.system()
    if system in ("Darwin", "Windows"):
        return "Start Docker Desktop and wait until it says it is running, then try again."
    if os.environ.get("DOCKER_HOST"):
        return "Start the engine DOCKER_HOST points at, or unset DOCKER_HOST to use the local one."
    if os.geteuid() != 0:
        return (
            "Start Docker (`sudo systemctl start docker`, or run `sudo make engine` once), "
            "and make sure your user may use it (`sudo usermod -aG docker $USER`, then log in again)."
        )
    return "Install Docker (`apt-get install docker.io`) and start it (`dockerd &`)."
