"""Learner containers: started with limits and labels, watched, called over HTTP, and
reached inside through pytest-testinfra (whose backend here is this engine's exec API, so
there is one transport, not the `docker` command line as well)."""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from collections.abc import Iterable
from typing import Any

import docker
import requests
from docker.errors import APIError, InvalidVersion, NotFound
from testinfra.backend.base import BaseBackend, CommandResult

from grader.engine.errors import api_message
from grader.errors import EngineError


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


# A learner's process may not gain privileges (setuid binaries), holds only the capability
# to bind a port below 1024 (the lab's apps listen on 80), and its log is capped: the grader
# reads the last lines only, and a container printing without end must not fill the disk.
LOG_MAX_BYTES = "1m"
LEARNER_HARDENING = {
    "security_opt": ["no-new-privileges"],
    "cap_drop": ["ALL"],
    "cap_add": ["NET_BIND_SERVICE"],
    "log_config": {"type": "json-file", "config": {"max-size": LOG_MAX_BYTES, "max-file": "1"}},
}


@dataclass
class Service:
    """A learner container started on the lab network."""

    exercise: str
    alias: str
    container_name: str
    container_id: str
    host_ports: dict[int, int] = field(default_factory=dict)
    # Where the ports are published and called: the engine's `published_on` (127.0.0.1 for
    # a local engine, the engine host's address for a remote one).
    host: str = "127.0.0.1"

    def url(self, path: str, container_port: int = 80) -> str:
        return f"http://{url_host(self.host)}:{self.host_ports[container_port]}{path}"


def url_host(address: str) -> str:
    """An address as a URL or http.client names a host: an IPv6 one in brackets."""
    return f"[{address}]" if ":" in address else address


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
    truncated: bool = False  # it printed more than OUTPUT_CAP: `output` is its start


@dataclass(frozen=True)
class HttpAnswer:
    """What a service answered; `error` names the failure when it did not answer at all."""

    status: int | None
    text: str = ""
    error: str = ""
    logs: str = ""  # the container's last lines, when it gave no answer
    redirect: str = ""  # a 3xx answer's Location: reported, never fetched
    truncated: bool = False  # the body was longer than HTTP_BODY_CAP: `text` is its start

    def json(self) -> Any:
        return json.loads(self.text)


def published_ports(attrs: dict, ports: Iterable[int]) -> dict[int, int]:
    found = {}
    for inside in ports:
        published = (attrs["NetworkSettings"]["Ports"] or {}).get(f"{inside}/tcp")
        if published:
            found[inside] = int(published[0]["HostPort"])
    return found


def port_bindings(container_ports: Iterable[int], host: str = "127.0.0.1") -> dict[str, tuple]:
    """Each container port on a free port of `host` that the engine picks when it starts
    the container: a host port chosen here (the chapter's 800, or one found free) could be
    taken by another grading before the container binds it, and the learner would be
    blamed for "port is already allocated".

    `host` is the engine's `published_on`: 127.0.0.1 for a local engine, so only this
    machine reaches a learner's container; for a remote engine, the engine host's address
    the grader reaches it at (127.0.0.1 there would be out of the grader's reach). Never
    0.0.0.0, which would offer the container on every network the engine host is on."""
    return {f"{inside}/tcp": (host,) for inside in container_ports}


def state_of(client: docker.DockerClient, container_id: str, log_lines: int) -> ContainerState:
    attrs = client.api.inspect_container(container_id)
    state = attrs["State"]
    logs = log_tail(client, container_id, log_lines)
    running = bool(state.get("Running"))
    return ContainerState(
        running=running,
        exit_code=None if running else state.get("ExitCode"),
        oom_killed=bool(state.get("OOMKilled")),
        logs=logs,
    )


# -- what a container printed, bounded (docs/reference/bounds.md) --------------------------

# The engine sends a container's output in small frames (a log line is split at 16 KiB, exec
# output comes in pieces of at most 32 KiB), read one by one: these caps bound what is kept.
OUTPUT_CAP = 1 << 20  # bytes kept of a run to completion's output, of each exec stream
LOG_TAIL_CAP = 64 * 1024  # bytes kept of a container's last log lines
EXEC_TIMEOUT_S = 30  # an exec still running then is left to the container's removal
EXEC_TIMED_OUT = 124  # the exit status `timeout` gives a command it stopped


class Head:
    """The first `cap` bytes of what is added piece by piece; `cut` once more came."""

    def __init__(self, cap: int):
        self.cap = cap
        self.size = 0
        self.cut = False
        self._pieces: list[bytes] = []

    def add(self, piece: bytes) -> bool:
        """Keep what fits; False once the cap is reached."""
        room = self.cap - self.size
        if len(piece) > room:
            piece, self.cut = piece[:room], True
        if piece:
            self._pieces.append(piece)
            self.size += len(piece)
        return not self.cut

    def data(self) -> bytes:
        return b"".join(self._pieces)


class Tail:
    """The last `cap` bytes of what is added piece by piece."""

    def __init__(self, cap: int):
        self.cap = cap
        self._pieces: deque[bytes] = deque()
        self._size = 0

    def add(self, piece: bytes) -> None:
        self._pieces.append(piece)
        self._size += len(piece)
        while self._size - len(self._pieces[0]) >= self.cap:
            self._size -= len(self._pieces.popleft())

    def text(self) -> str:
        return b"".join(self._pieces)[-self.cap:].decode(errors="replace")


def log_head(client: docker.DockerClient, container_id: str, cap: int = OUTPUT_CAP,
             stderr: bool = True) -> Head:
    """The start of a container's log (stdout, and stderr unless told), up to `cap` bytes;
    the rest is not read."""
    stream = client.api.logs(container_id, stdout=True, stderr=stderr, stream=True, follow=False)
    head = Head(cap)
    try:
        for piece in stream:
            if not head.add(piece):
                break
    finally:
        stream.close()
    return head


def log_tail(client: docker.DockerClient, container_id: str, lines: int,
             cap: int = LOG_TAIL_CAP) -> str:
    """A container's last `lines` log lines, at most their last `cap` bytes."""
    stream = client.api.logs(container_id, tail=lines, stream=True, follow=False)
    tail = Tail(cap)
    try:
        for piece in stream:
            tail.add(piece)
    finally:
        stream.close()
    return tail.text()


def cannot_publish(engine_words: str) -> bool:
    """The engine could not bind the publish address: it is not one of the engine host's own
    (DOCKER_HOST names it through NAT, a load balancer or a tunnel). Not the learner's fault."""
    return "cannot assign requested address" in engine_words


def publish_refused(engine: str, address: str, engine_words: str) -> EngineError:
    return EngineError(
        f"The engine at {engine} cannot publish a container's port on {address}, the address "
        f"the grader reaches it at: {engine_words}",
        hint="The grader publishes ports on the address DOCKER_HOST (or --engine) names, so "
             "that it can call them; that must be an address of the engine host itself, not "
             "one reached through NAT, a load balancer or an SSH tunnel. "
             "See docs/instructors/engines.md.",
    )


# Bounds of one HTTP call to a learner's container (docs/reference/bounds.md).
HTTP_BODY_CAP = 1 << 20  # bytes of a body read; the rest is never read
HTTP_CHUNK = 64 * 1024


def call(
    service: Service,
    method: str,
    path: str,
    port: int = 80,
    *,
    json_body: Any = None,
    body: str | None = None,
    timeout_s: float = 5,
    body_cap: int = HTTP_BODY_CAP,
) -> HttpAnswer:
    """One request to a service's published port, bounded: `timeout_s` is a deadline for the
    whole exchange (connect, headers and body), at most `body_cap` bytes of the body are read,
    and a redirect is reported with its target, never followed."""
    deadline = time.monotonic() + timeout_s
    headers = {"Accept-Encoding": "identity", "Connection": "close"}
    data: bytes | None = None
    if json_body is not None:
        data, headers["Content-Type"] = json.dumps(json_body).encode(), "application/json"
    elif body is not None:
        data = body.encode()
    # The address the port was published on (Service.host): this machine's loopback for a
    # local engine, the engine host's address for a remote one.
    connection = http.client.HTTPConnection(url_host(service.host), service.host_ports[port],
                                            timeout=timeout_s)
    # The deadline is total, not per read: at it, the socket is shut, which ends any read.
    watchdog = threading.Timer(timeout_s, shut, (connection,))
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        content, truncated = read_capped(response, body_cap, deadline)
    except (OSError, http.client.HTTPException) as exc:
        if time.monotonic() >= deadline or isinstance(exc, TimeoutError):
            return HttpAnswer(None, error=late(timeout_s))
        return HttpAnswer(None, error=error_name(exc))
    finally:
        watchdog.cancel()
        connection.close()
    if content is None:
        return HttpAnswer(None, error=late(timeout_s))
    redirect = response.getheader("Location", "") if 300 <= response.status < 400 else ""
    return HttpAnswer(response.status, decode(content, response.getheader("Content-Type", "")),
                      redirect=redirect, truncated=truncated)


def read_capped(response: http.client.HTTPResponse, cap: int,
                deadline: float) -> tuple[bytes | None, bool]:
    """The body's first `cap` bytes and whether there was more; None when the deadline came
    first. `read1` returns what one receive brought, so the deadline is seen between reads."""
    parts: list[bytes] = []
    size = 0
    while size <= cap:
        if time.monotonic() >= deadline:
            return None, False
        chunk = response.read1(min(HTTP_CHUNK, cap + 1 - size))
        if not chunk:
            if time.monotonic() >= deadline:  # the watchdog shut the socket
                return None, False
            return b"".join(parts), False
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)[:cap], True


def shut(connection: http.client.HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def late(timeout_s: float) -> str:
    return f"no complete answer within {timeout_s:g} s"


def error_name(exc: BaseException) -> str:
    """The names the reports have always used: ConnectionError when nothing answered."""
    if isinstance(exc, (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine)):
        return "ConnectionError"
    return type(exc).__name__


def decode(content: bytes, content_type: str) -> str:
    charset = "utf-8"
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "charset" and value:
            charset = value.strip('"')
    try:
        return content.decode(charset, errors="replace")
    except LookupError:
        return content.decode("utf-8", errors="replace")


class ExecBackend(BaseBackend):
    """pytest-testinfra's view of a container, through the engine's exec API."""

    NAME = "dockerlab-exec"

    def __init__(self, client: docker.DockerClient, container_id: str, **kwargs: Any):
        self.client = client
        self.container_id = container_id
        super().__init__(container_id, **kwargs)

    def run(self, command: str, *args: str, **kwargs: Any) -> CommandResult:
        """The command's exit status and the first OUTPUT_CAP bytes of each of its streams.
        Its output is read to the end (so the status is its own) but for EXEC_TIMEOUT_S at
        most: then it is left running, reported with the status `timeout` gives."""
        cmd = self.get_command(command, *args)
        api = self.client.api
        exec_id = api.exec_create(self.container_id, ["/bin/sh", "-c", cmd])["Id"]
        try:
            frames = api.exec_start(exec_id, stream=True, demux=True)
        except APIError as exc:  # the runtime could not start /bin/sh at all
            return self.result(127, self.encode(cmd), b"", api_message(exc).encode())
        stdout, stderr = Head(OUTPUT_CAP), Head(OUTPUT_CAP)
        watchdog = threading.Timer(EXEC_TIMEOUT_S, frames.close)  # ends the loop below
        watchdog.daemon = True
        watchdog.start()
        try:
            for out, err in frames:
                stdout.add(out or b"")
                stderr.add(err or b"")
        finally:
            watchdog.cancel()
            frames.close()
        state = api.exec_inspect(exec_id)
        notes = [f"(the grader kept the first {OUTPUT_CAP:,} bytes of its standard {name})"
                 for name, kept in (("output", stdout), ("error", stderr)) if kept.cut]
        exit_code = state["ExitCode"]
        if state.get("Running"):
            notes.append(f"(still running after {EXEC_TIMEOUT_S} s: the grader stopped waiting)")
            exit_code = EXEC_TIMED_OUT
        said = stderr.data() + "".join(f"\n{note}" for note in notes).encode()
        return self.result(exit_code, self.encode(cmd), stdout.data(), said)


# -- why a container does not answer: what it listens on, and whether it is busy ----------

# A throw-away helper in the container's network namespace reads the kernel's socket
# tables, so it works for images without a shell (FROM scratch) and on a remote engine.
# diamol/base is one of the grader's base images: busybox, with `cat`.
LOOKOUT_IMAGE = "diamol/base"
LOOKOUT_COMMAND = ["cat", "/proc/net/tcp", "/proc/net/tcp6"]
LOOKOUT_LIMITS = Limits(memory_mb=16, pids=8, cpus=0.5)
LOOKOUT_TIMEOUT_S = 10
LISTEN = "0A"  # the kernel's TCP_LISTEN state in /proc/net/tcp
ENGINE_DNS = "127.0.0.11"  # the engine's own resolver on a user-defined network: not the app's


@dataclass(frozen=True, order=True)
class Listener:
    """A TCP socket listening inside a container."""

    port: int
    address: str  # "0.0.0.0", "::", "127.0.0.1", "::1", or the container's own address

    @property
    def loopback_only(self) -> bool:
        """Bound to the container's own loopback: nothing outside it can connect."""
        return ipaddress.ip_address(self.address).is_loopback

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


def listeners(proc_net_tcp: str) -> tuple[Listener, ...]:
    """The LISTEN sockets in the text of /proc/net/tcp and /proc/net/tcp6, sorted; not the
    engine's embedded DNS server, which listens in every container on a user-defined network."""
    found = set()
    for line in proc_net_tcp.splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[3] != LISTEN or ":" not in fields[1]:
            continue
        address, port = fields[1].split(":")
        found.add(Listener(int(port, 16), kernel_address(address)))
    return tuple(sorted(found - {listener for listener in found if listener.address == ENGINE_DNS}))


def kernel_address(hex_address: str) -> str:
    """/proc/net/tcp's address: 32-bit words in hex, each in the host's (little-endian) order."""
    words = [bytes.fromhex(hex_address[at:at + 8])[::-1] for at in range(0, len(hex_address), 8)]
    address = ipaddress.ip_address(b"".join(words))
    return str(getattr(address, "ipv4_mapped", None) or address)  # ::ffff:127.0.0.1: IPv4's


def look_at_listeners(client: docker.DockerClient, container_id: str,
                      labels: dict[str, str]) -> tuple[Listener, ...] | None:
    """What listens in a running container, read by a labelled helper sharing its network
    namespace and nothing else (no capabilities, read-only, small limits), removed at once;
    None when it could not look (the container stopped, or the helper image is missing)."""
    api = client.api
    helper = None
    try:
        helper = api.create_container(
            LOOKOUT_IMAGE,
            LOOKOUT_COMMAND,
            labels=labels,
            user="65534:65534",
            host_config=api.create_host_config(
                network_mode=f"container:{container_id}",
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                read_only=True,
                **LOOKOUT_LIMITS.options(),
            ),
        )["Id"]
        api.start(helper)
        api.wait(helper, timeout=LOOKOUT_TIMEOUT_S)
        # The listening sockets come first in the kernel's tables: the start is enough.
        text = log_head(client, helper, stderr=False).data().decode(errors="replace")
    except (APIError, requests.exceptions.ReadTimeout):  # NotFound: the image or the container
        return None
    finally:
        if helper is not None:
            try:
                api.remove_container(helper, force=True)
            except NotFound:
                pass
    return listeners(text) if "local_address" in text else None


def cpu_seconds(client: docker.DockerClient, container_id: str) -> float | None:
    """The CPU time a container has used since it started; None when the engine gives none.

    One sample, not the engine's two a second apart: answered at once when the last sample
    of this container was taken more than about 1.5 s before (closer, the engine waits for
    its next one-second tick)."""
    try:
        try:
            sample = client.api.stats(container_id, stream=False, one_shot=True)
        except InvalidVersion:  # an engine older than API 1.41: one sample takes ~2 s
            sample = client.api.stats(container_id, stream=False)
    except NotFound:
        return None
    usage = ((sample.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage")
    return None if usage is None else usage / 1e9
