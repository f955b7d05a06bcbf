"""The one module of the grader that talks to the Docker SDK.

A `Sandbox` labels everything it creates (containers, networks, throw-away images) with
`dockerlab.owner` and its own `dockerlab.session`, and removes all of it on `close()` —
which the context manager calls on success, failure and Ctrl-C alike. The learner's own
images are kept: they are the learner's.
"""

from __future__ import annotations

import functools
import io
import json
import socket
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.utils.build import tar as build_context_tar

from grader.buildlog import BuildStep, created_images, follow_step, without_added_first_line
from grader.dockerfile import declare_platform_args, platform_args

OWNER_LABEL = "dockerlab.owner"
SESSION_LABEL = "dockerlab.session"
INJECTED_DOCKERFILE = ".dockerlab.Dockerfile"
SMALL_MEMBER = 1_000_000

LineSink = Callable[[str], None]


@dataclass
class BuildOutcome:
    ok: bool
    image_id: str | None
    steps: list[BuildStep]
    log: list[str]
    error: str = ""
    timed_out: bool = False
    stopped: bool = False  # by the caller's `stop_when`, after it had seen enough
    duration_s: float = 0.0

    @property
    def failing_step(self) -> BuildStep | None:
        return None if self.ok or not self.steps else self.steps[-1]

    @property
    def cached_steps(self) -> int:
        return sum(1 for step in self.steps if step.cached)


@dataclass(frozen=True)
class ImageFacts:
    ref: str
    id: str
    size_bytes: int
    exposed_ports: tuple[str, ...]
    env: dict[str, str]
    cmd: tuple[str, ...] | None
    entrypoint: tuple[str, ...] | None
    workdir: str
    user: str
    labels: dict[str, str]

    @property
    def size_mb(self) -> float:
        return self.size_bytes / 1_000_000  # the docker CLI's MB


@dataclass(frozen=True)
class LayerEntry:
    path: str  # absolute, e.g. /usr/local/go/bin/go
    kind: str  # file | dir | symlink | hardlink | whiteout | opaque | other
    size: int
    target: str = ""  # where a link points


@dataclass
class ImageLayer:
    index: int  # 0 = bottom
    created_by: str
    entries: list[LayerEntry]


@dataclass
class Service:
    """A learner container started on the lab network."""

    exercise: str
    alias: str
    container_name: str
    container_id: str
    host_ports: dict[int, int]

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
class Limits:
    memory_mb: int = 512
    pids: int = 256
    cpus: float = 1.0


class Sandbox:
    def __init__(self, client: docker.DockerClient, owner: str = "grader"):
        self.client = client
        self.session = uuid.uuid4().hex[:12]
        self.labels = {OWNER_LABEL: owner, SESSION_LABEL: self.session}
        self._containers: list[str] = []
        self._networks: list[str] = []
        self._images: list[str] = []
        self._network: str | None = None
        self.network_clash: list[str] = []  # why the session's network is not the lab's

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    # -- builds -------------------------------------------------------------------------

    def build(
        self,
        context_dir: Path,
        dockerfile: Path,
        tag: str,
        *,
        build_args: dict[str, str] | None = None,
        target: str | None = None,
        timeout_s: float = 900,
        labels: dict[str, str] | None = None,
        on_line: LineSink = lambda _line: None,
        throwaway: bool = False,
        no_cache: bool = False,
        stop_when: Callable[[list[BuildStep]], bool] | None = None,
    ) -> BuildOutcome:
        """Build through the engine's cache; a learner's failure is an outcome, not an error.

        `stop_when` is asked after every line of the build's log; once it says yes, the rest
        of the build is stopped (the outcome says `stopped`): the caller has seen enough.
        """
        started = time.monotonic()
        steps: list[BuildStep] = []
        log: list[str] = []
        image_id = None
        error = ""
        expired = threading.Event()
        stop = threading.Event()
        finished = threading.Event()
        stopped = False

        def keep_stopping_steps() -> None:
            # The classic builder has no time-out and no cancel but the step's container:
            # kill whichever step runs until the build ends (a step whose container is still
            # being created when asked is caught on the next round).
            stop.wait()
            while not finished.is_set():
                container = steps[-1].container if steps else None
                if container:
                    try:
                        self.client.api.kill(container)
                    except DockerException:
                        pass  # not started yet, or already gone
                finished.wait(0.2)

        def expire() -> None:
            expired.set()
            stop.set()

        timer = threading.Timer(timeout_s, expire)
        timer.daemon = True
        stopper = threading.Thread(target=keep_stopping_steps, daemon=True)
        text = dockerfile.read_text(encoding="utf-8", errors="replace")
        with_platform = declare_platform_args(text, self.platform_args)
        if with_platform is not None:
            text = with_platform
            build_args = {**self.platform_args, **(build_args or {})}
        with tempfile.TemporaryFile() as context:
            build_context_tar(
                str(context_dir),
                exclude=dockerignore_patterns(dockerfile.parent, context_dir),
                dockerfile=(INJECTED_DOCKERFILE, text),
                fileobj=context,
            )
            context.seek(0)
            all_labels = {**(labels or {}), **(self.labels if throwaway else {})}
            timer.start()
            stopper.start()
            try:
                stream = self.client.api.build(
                    fileobj=context,
                    custom_context=True,
                    dockerfile=INJECTED_DOCKERFILE,
                    tag=tag,
                    buildargs=build_args or {},
                    target=target,
                    labels=all_labels,
                    rm=True,
                    nocache=no_cache,
                    forcerm=True,
                    decode=True,
                )
                for chunk in stream:
                    if "stream" in chunk:
                        for line in chunk["stream"].splitlines():
                            log.append(line)
                            on_line(line)
                            follow_step(line, steps)
                            if stop_when is not None and not stop.is_set() and stop_when(steps):
                                stopped = True
                                stop.set()
                    elif "error" in chunk:
                        error = chunk["error"].strip()
                        log.append(error)
                        on_line(error)
                    elif "aux" in chunk and "ID" in chunk["aux"]:
                        image_id = chunk["aux"]["ID"]
            except APIError as exc:
                error = api_message(exc)
                log.append(error)
            finally:
                timer.cancel()
                finished.set()
                stop.set()
                stopper.join()
        if with_platform is not None:
            steps, error = without_added_first_line(steps, error)
        if image_id is None and not error:
            error = "the builder ended without producing an image"
        ok = image_id is not None and not error and not expired.is_set()
        if throwaway:
            # Every step's new image, not only the final one: the classic builder keeps the
            # other stages' images as cache, and removing the final image does not free them.
            self._images.extend(created_images(steps))
            if ok:
                self._images.append(image_id)
        if expired.is_set():
            error = f"the build took longer than {timeout_s:.0f} s and was stopped"
        return BuildOutcome(
            ok=ok,
            image_id=image_id if ok else None,
            steps=steps,
            log=log,
            error=error,
            timed_out=expired.is_set(),
            stopped=stopped,
            duration_s=time.monotonic() - started,
        )

    @functools.cached_property
    def platform_args(self) -> dict[str, str]:
        """BuildKit's automatic platform args for this engine, for the classic builder."""
        version = self.client.version()
        return platform_args(version.get("Os") or "linux", version.get("Arch") or "amd64")

    # -- images -------------------------------------------------------------------------

    def image_facts(self, ref: str) -> ImageFacts:
        attrs = self.client.api.inspect_image(ref)
        config = attrs.get("Config") or {}
        env = dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)
        return ImageFacts(
            ref=ref,
            id=attrs["Id"],
            size_bytes=int(attrs.get("Size") or 0),
            exposed_ports=tuple(sorted((config.get("ExposedPorts") or {}).keys())),
            env=env,
            cmd=tuple(config["Cmd"]) if config.get("Cmd") else None,
            entrypoint=tuple(config["Entrypoint"]) if config.get("Entrypoint") else None,
            workdir=config.get("WorkingDir") or "",
            user=config.get("User") or "",
            labels=config.get("Labels") or {},
        )

    def image_exists(self, ref: str) -> bool:
        try:
            self.client.api.inspect_image(ref)
            return True
        except ImageNotFound:
            return False

    def image_layers(self, ref: str) -> list[ImageLayer]:
        """Every layer of the image, bottom first, with the files each adds or deletes.

        Read from `docker save`, so it works for images with no shell (FROM scratch) and
        sees files a later layer deletes.
        """
        listings: dict[str, list[LayerEntry]] = {}
        documents: dict[str, bytes] = {}
        with tempfile.TemporaryFile() as saved:
            for chunk in self.client.api.get_image(ref):
                saved.write(chunk)
            saved.seek(0)
            with tarfile.open(fileobj=saved, mode="r|") as archive:
                for member in archive:
                    if not member.isfile():
                        continue
                    handle = archive.extractfile(member)
                    if member.size < SMALL_MEMBER:
                        # JSON documents; in an OCI layout even the config is a blob.
                        data = handle.read()
                        documents[member.name] = data
                        listings[member.name] = list_layer(io.BytesIO(data))
                    else:
                        listings[member.name] = list_layer(handle)
        manifest = json.loads(documents["manifest.json"])[0]
        config = json.loads(documents[manifest["Config"]])
        commands = [
            entry.get("created_by", "")
            for entry in config.get("history", [])
            if not entry.get("empty_layer")
        ]
        layers = []
        for index, name in enumerate(manifest["Layers"]):
            created_by = commands[index] if index < len(commands) else ""
            layers.append(ImageLayer(index, created_by, listings.get(name, [])))
        return layers

    def remove_image(self, ref: str) -> None:
        try:
            self.client.api.remove_image(ref, force=True)
        except NotFound:
            pass

    # -- networks and containers --------------------------------------------------------

    def lab_network(self, preferred: str, names: set[str]) -> str:
        """The network this session's containers share, decided once per session.

        `preferred` (the chapter's `nat`), reused when it exists or created; but when a
        container that is not this session's already answers there to one of `names` (the
        learner's own `iotd` from the chapter, or another grader's), Docker's DNS would send
        calls to either, so the session gets a network of its own; `network_clash` says why.
        """
        if self._network is None:
            self.network_clash = self.names_answering_on(preferred, names)
            self._network = f"{preferred}-{self.session}" if self.network_clash else preferred
            self.ensure_network(self._network)
        return self._network

    def names_answering_on(self, network: str, names: set[str]) -> list[str]:
        """`name` (container) for each of `names` another container answers to on `network`."""
        try:
            attached = self.client.api.inspect_network(network).get("Containers") or {}
        except NotFound:
            return []
        answering = []
        for container_id in attached:
            try:
                info = self.client.api.inspect_container(container_id)
            except NotFound:
                continue  # gone meanwhile
            if (info["Config"].get("Labels") or {}).get(SESSION_LABEL) == self.session:
                continue
            container = info["Name"].lstrip("/")
            endpoint = (info["NetworkSettings"].get("Networks") or {}).get(network) or {}
            answers = {container, *(endpoint.get("Aliases") or [])}
            answering += [f"`{name}` ({container})" for name in sorted(answers & names)]
        return answering

    def ensure_network(self, name: str) -> None:
        """Reuse the network when it exists (as the chapter does), else create and own it."""
        # The API's name filter also matches parts of names: compare whole names.
        if any(found["Name"] == name for found in self.client.api.networks(names=[name])):
            return
        try:
            network = self.client.networks.create(name, driver="bridge", labels=self.labels)
        except APIError as exc:
            if exc.status_code == 409:  # created meanwhile by someone else: reuse it
                return
            raise
        self._networks.append(network.id)

    def start_service(
        self,
        exercise: str,
        image: str,
        alias: str,
        *,
        network: str,
        aliases: list[str] | None = None,
        env: dict[str, str] | None = None,
        ports: dict[int, int] | None = None,
        limits: Limits = Limits(),
    ) -> Service:
        name = f"dockerlab-{self.session}-{alias}"
        bindings = {
            f"{inside}/tcp": ("127.0.0.1", outside) if port_is_free(outside) else ("127.0.0.1",)
            for inside, outside in (ports or {}).items()
        }
        container = self.client.containers.create(
            image,
            name=name,
            labels=self.labels,
            environment=env or {},
            ports=bindings,
            network=network,
            networking_config={
                network: self.client.api.create_endpoint_config(aliases=[alias, *(aliases or [])])
            },
            **limit_options(limits),
        )
        self._containers.append(container.id)
        container.start()
        container.reload()
        host_ports = {}
        for inside in ports or {}:
            published = (container.attrs["NetworkSettings"]["Ports"] or {}).get(f"{inside}/tcp")
            if published:
                host_ports[inside] = int(published[0]["HostPort"])
        return Service(exercise, alias, name, container.id, host_ports)

    def container_state(self, container_id: str, log_lines: int = 20) -> ContainerState:
        container = self.client.containers.get(container_id)
        state = container.attrs["State"]
        logs = container.logs(tail=log_lines).decode(errors="replace")
        running = bool(state.get("Running"))
        return ContainerState(
            running=running,
            exit_code=None if running else state.get("ExitCode"),
            oom_killed=bool(state.get("OOMKilled")),
            logs=logs,
        )

    def host(self, service: Service):
        """A pytest-testinfra host inside a running service (commands through `docker exec`)."""
        import testinfra

        return testinfra.get_host(f"docker://{service.container_id}")

    def run_to_completion(self, image: str, timeout_s: float, limits: Limits = Limits()) -> Completion:
        """Run the image's own command and collect what it prints (the chapter's 4.1 check)."""
        container = self.client.containers.create(
            image, labels=self.labels, network_mode="none", **limit_options(limits)
        )
        self._containers.append(container.id)
        container.start()
        try:
            exit_code = container.wait(timeout=timeout_s)["StatusCode"]
        except Exception:  # the wait timed out (requests raises its own types)
            container.kill()
            exit_code = None
        output = container.logs(stdout=True, stderr=True).decode(errors="replace")
        return Completion(exit_code, output)

    # -- clean-up -----------------------------------------------------------------------

    def close(self) -> None:
        """Remove every container, network and throw-away image of this session."""
        owned = {SESSION_LABEL: self.session}
        for container_id in set(self._containers) | set(self.labelled_containers(owned)):
            try:
                self.client.api.remove_container(container_id, force=True, v=True)
            except NotFound:
                pass
        for network_id in self._networks:
            try:
                self.client.api.remove_network(network_id)
            except NotFound:
                pass
        for image_id in reversed(self._images):  # children before their parents
            try:
                self.client.api.remove_image(image_id, force=True, noprune=False)
            except (NotFound, APIError):
                pass  # shared with a kept image: nothing of ours to free
        self._containers.clear()
        self._networks.clear()
        self._images.clear()

    def labelled_containers(self, labels: dict[str, str]) -> list[str]:
        filters = {"label": [f"{key}={value}" for key, value in labels.items()]}
        return [item["Id"] for item in self.client.api.containers(all=True, filters=filters)]


def remove_leftovers(client: docker.DockerClient, owner: str) -> int:
    """Remove the containers, networks and throw-away images that an earlier session left
    behind when it could not clean up (killed, or the machine stopped)."""
    filters = {"label": [f"{OWNER_LABEL}={owner}"]}
    removed = 0
    for item in client.api.containers(all=True, filters=filters):
        client.api.remove_container(item["Id"], force=True, v=True)
        removed += 1
    for network in client.api.networks(filters=filters):
        client.api.remove_network(network["Id"])
        removed += 1
    for image in client.api.images(filters=filters):
        try:
            client.api.remove_image(image["Id"], force=True)
            removed += 1
        except NotFound:
            pass  # went with an image removed before it
    return removed


def dockerignore_patterns(exercise_dir: Path, context_dir: Path) -> list[str]:
    """The exercise folder's .dockerignore wins over the context's own (the lab's contexts are
    shared app folders, so each exercise can say what its build leaves out)."""
    for folder in (exercise_dir, context_dir):
        ignore = folder / ".dockerignore"
        if ignore.is_file():
            return [
                line.strip()
                for line in ignore.read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")
            ]
    return []


def list_layer(handle) -> list[LayerEntry]:
    entries = []
    try:
        with tarfile.open(fileobj=handle, mode="r|") as layer:
            for member in layer:
                path = "/" + str(PurePosixPath(member.name.lstrip("./"))).lstrip("/")
                base = PurePosixPath(path).name
                if base == ".wh..wh..opq":
                    kind, path = "opaque", str(PurePosixPath(path).parent)
                elif base.startswith(".wh."):
                    kind, path = "whiteout", str(PurePosixPath(path).parent / base[4:])
                elif member.issym():
                    kind = "symlink"
                elif member.islnk():
                    kind = "hardlink"
                elif member.isdir():
                    kind = "dir"
                elif member.isfile():
                    kind = "file"
                else:
                    kind = "other"
                entries.append(LayerEntry(path, kind, member.size, member.linkname or ""))
    except tarfile.ReadError:
        return []  # a JSON blob, not a layer
    return entries


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def limit_options(limits: Limits) -> dict:
    return {
        "mem_limit": f"{limits.memory_mb}m",
        "pids_limit": limits.pids,
        "nano_cpus": int(limits.cpus * 1_000_000_000),
    }


def api_message(exc: APIError) -> str:
    return (exc.explanation or str(exc)).strip() if isinstance(exc, APIError) else str(exc)
