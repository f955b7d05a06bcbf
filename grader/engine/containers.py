"""Learner containers: started with limits and labels, watched, called over HTTP, and
reached inside through pytest-testinfra (whose backend here is this engine's exec API, so
there is one transport, not the `docker` command line as well)."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from typing import Any

import docker
import requests
from docker.errors import APIError
from testinfra.backend.base import BaseBackend, CommandResult

from grader.engine.errors import api_message


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 512
    pids: int = 256
    cpus: float = 1.0

    def options(self) -> dict:
        return {
            "mem_limit": f"{self.memory_mb}m",
            "pids_limit": self.pids,
            "nano_cpus": int(self.cpus * 1_000_000_000),
        }


@dataclass
class Service:
    """A learner container started on the lab network."""

    exercise: str
    alias: str
    container_name: str
    container_id: str
    host_ports: dict[int, int] = field(default_factory=dict)

    def url(self, path: str, container_port: int = 80) -> str:
        return f"http://127.0.0.1:{self.host_ports[container_port]}{path}"


@dataclass
class ContainerState:
    running: bool
    exit_code: int | None
    oom_killed: bool
    logs: str


@dataclass
class Completion:
    exit_code: int | None  # None: still running at the time-out (it was killed)
    output: str


@dataclass(frozen=True)
class HttpAnswer:
    """What a service answered; `error` names the failure when it did not answer at all."""

    status: int | None
    text: str = ""
    error: str = ""
    logs: str = ""  # the container's last lines, when it gave no answer

    def json(self) -> Any:
        return json.loads(self.text)


def published_ports(attrs: dict, ports: dict[int, int]) -> dict[int, int]:
    found = {}
    for inside in ports:
        published = (attrs["NetworkSettings"]["Ports"] or {}).get(f"{inside}/tcp")
        if published:
            found[inside] = int(published[0]["HostPort"])
    return found


def port_bindings(ports: dict[int, int]) -> dict[str, tuple]:
    """Each container port on 127.0.0.1: the preferred host port, or any free one if taken."""
    return {
        f"{inside}/tcp": ("127.0.0.1", outside) if port_is_free(outside) else ("127.0.0.1",)
        for inside, outside in ports.items()
    }


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def state_of(client: docker.DockerClient, container_id: str, log_lines: int) -> ContainerState:
    attrs = client.api.inspect_container(container_id)
    state = attrs["State"]
    logs = client.api.logs(container_id, tail=log_lines).decode(errors="replace")
    running = bool(state.get("Running"))
    return ContainerState(
        running=running,
        exit_code=None if running else state.get("ExitCode"),
        oom_killed=bool(state.get("OOMKilled")),
        logs=logs,
    )


def call(
    service: Service,
    method: str,
    path: str,
    port: int = 80,
    *,
    json_body: Any = None,
    body: str | None = None,
    timeout_s: float = 5,
) -> HttpAnswer:
    try:
        answer = requests.request(
            method, service.url(path, port), json=json_body, data=body, timeout=timeout_s
        )
    except requests.RequestException as exc:
        return HttpAnswer(None, error=type(exc).__name__)
    return HttpAnswer(answer.status_code, answer.text)


class ExecBackend(BaseBackend):
    """pytest-testinfra's view of a container, through the engine's exec API."""

    NAME = "dockerlab-exec"

    def __init__(self, client: docker.DockerClient, container_id: str, **kwargs: Any):
        self.client = client
        self.container_id = container_id
        super().__init__(container_id, **kwargs)

    def run(self, command: str, *args: str, **kwargs: Any) -> CommandResult:
        cmd = self.get_command(command, *args)
        exec_id = self.client.api.exec_create(self.container_id, ["/bin/sh", "-c", cmd])["Id"]
        try:
            stdout, stderr = self.client.api.exec_start(exec_id, demux=True)
        except APIError as exc:  # the runtime could not start /bin/sh at all
            return self.result(127, self.encode(cmd), b"", api_message(exc).encode())
        exit_code = self.client.api.exec_inspect(exec_id)["ExitCode"]
        return self.result(exit_code, self.encode(cmd), stdout or b"", stderr or b"")
