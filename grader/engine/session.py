"""A grading session on one engine: everything it creates is labelled and released.

A `Sandbox` labels everything it creates (containers, networks, throw-away images) with
`dockerlab.owner` and its own `dockerlab.session`, and removes all of it on `close()` —
which the context manager calls on success, failure and Ctrl-C alike. The learner's own
images are kept: they are the learner's. It is safe to use from several threads.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from docker.errors import APIError, NotFound

from grader.engine import build as builds
from grader.engine import containers, images
from grader.engine.build import BuildOutcome, BuildRequest, LineSink, StopWhen
from grader.engine.buildlog import created_images
from grader.engine.connection import Engine
from grader.engine.containers import (
    Completion,
    ContainerState,
    ExecBackend,
    HttpAnswer,
    Limits,
    Listener,
    LEARNER_HARDENING,
    Service,
)
from grader.engine.errors import Cancelled, ContainerRefused, api_message, translated
from grader.engine.images import ImageFacts, ImageHistory, ImageLayer

OWNER_LABEL = "dockerlab.owner"
SESSION_LABEL = "dockerlab.session"
DEFAULT_LIMITS = Limits()
REMOVERS = 8


class Sandbox:
    def __init__(self, engine: Engine, owner: str = "grader"):
        self.engine = engine
        self.client = engine.client
        self.session = uuid.uuid4().hex[:12]
        self.labels = {OWNER_LABEL: owner, SESSION_LABEL: self.session}
        self._containers: list[str] = []
        self._networks: list[str] = []
        self._images: list[str] = []
        self._network: str | None = None
        self._network_lock = threading.Lock()
        self.cancelled = threading.Event()

    def cancel(self) -> None:
        """Stop what runs (builds' steps, by their containers) and start nothing more: each
        call that would start something raises Cancelled from now on."""
        self.cancelled.set()

    def _going_on(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled("the grading was cancelled")

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    # -- builds and images ----------------------------------------------------------------

    @translated("building an image")
    def build(
        self,
        request: BuildRequest,
        *,
        on_line: LineSink = lambda _line: None,
        throwaway: bool = False,
        stop_when: StopWhen | None = None,
    ) -> BuildOutcome:
        """Build through the engine's cache. A `throwaway` build is labelled as this
        session's, and every image it made, in every stage, is removed on `close()`."""
        self._going_on()
        if throwaway:
            request = BuildRequest(**{**vars(request), "labels": {**request.labels, **self.labels}})
        outcome = builds.run_build(self.client, request, on_line, stop_when, self.cancelled)
        if throwaway:
            # Not only the final image: the classic builder keeps the other stages' images
            # as cache, and removing the final image does not free them.
            self._images.extend(created_images(outcome.steps))
            if outcome.ok:
                self._images.append(outcome.image_id)
        return outcome

    @translated("reading the image's configuration")
    def image_facts(self, ref: str) -> ImageFacts:
        return images.inspect(self.client, ref)

    @translated("reading the image's layers")
    def image_layers(self, ref: str) -> list[ImageLayer]:
        return images.layers(self.client, ref)

    @translated("reading an image's history")
    def image_history(self, ref: str) -> ImageHistory | None:
        """Its history rows and layer IDs; None when the engine has no such image."""
        return images.history(self.client, ref)

    # -- networks and containers ----------------------------------------------------------

    @translated("preparing the lab network")
    def lab_network(self, lab_network: str) -> str:
        """This session's own network for the lab's containers, created once and removed on
        close(): `<lab network>-<session>` (e.g. `nat-1a2b…`). Not the chapter's `nat`
        itself: another grading, or a learner's own container there, could answer to the
        same names (Docker's DNS would send calls to either), and two sessions creating `nat`
        at once make it ambiguous ("2 matches found on name")."""
        with self._network_lock:
            if self._network is None:
                name = f"{lab_network}-{self.session}"
                network = self.client.api.create_network(name, driver="bridge", labels=self.labels)
                self._networks.append(network["Id"])
                self._network = name
        return self._network

    @translated("starting a container")
    def start_service(
        self,
        exercise: str,
        image: str,
        alias: str,
        *,
        network: str,
        aliases: list[str] | None = None,
        env: dict[str, str] | None = None,
        ports: tuple[int, ...] = (),
        limits: Limits = DEFAULT_LIMITS,
    ) -> Service:
        """Start the learner's image on `network`; raises ContainerRefused when the engine
        will not run it (a learner's mistake, e.g. a CMD naming a missing program)."""
        self._going_on()
        name = f"dockerlab-{self.session}-{alias}"
        api = self.client.api
        try:
            container = api.create_container(
                image,
                name=name,
                labels=self.labels,
                environment=env or {},
                ports=[int(port) for port in ports],
                host_config=api.create_host_config(
                    # Published where the grader reaches this engine (Engine.published_on,
                    # containers.port_bindings): 127.0.0.1 for a local one.
                    port_bindings=containers.port_bindings(ports, self.engine.published_on),
                    network_mode=network,
                    **limits.options(),
                    **LEARNER_HARDENING,
                ),
                networking_config=api.create_networking_config(
                    {network: api.create_endpoint_config(aliases=[alias, *(aliases or [])])}
                ),
                use_config_proxy=False,  # the grader's proxy settings are not the learner's
            )
            self._containers.append(container["Id"])
            api.start(container["Id"])
        except APIError as exc:
            if ports and containers.cannot_publish(api_message(exc)):
                raise containers.publish_refused(self.engine.address, self.engine.published_on,
                                                 api_message(exc)) from exc
            raise ContainerRefused(api_message(exc)) from exc
        attrs = api.inspect_container(container["Id"])
        host_ports = containers.published_ports(attrs, ports)
        return Service(exercise, alias, name, container["Id"], host_ports,
                       host=self.engine.published_on)

    @translated("removing a container")
    def remove_service(self, service: Service) -> None:
        """Remove a service's container now (it is no longer needed); idempotent."""
        try:
            self.client.api.remove_container(service.container_id, force=True, v=True)
        except NotFound:
            pass

    @translated("reading a container's state")
    def container_state(self, container_id: str, log_lines: int = 20) -> ContainerState:
        self._going_on()
        return containers.state_of(self.client, container_id, log_lines)

    @translated("looking at what a container listens on")
    def listening(self, container_id: str) -> tuple[Listener, ...] | None:
        """The TCP sockets listening in a running container, read by a throw-away helper
        container (labelled, removed at once) that shares its network namespace; None when
        it could not look (the container stopped, or the helper image is missing)."""
        self._going_on()
        return containers.look_at_listeners(self.client, container_id, self.labels)

    @translated("reading a container's CPU use")
    def cpu_seconds(self, container_id: str) -> float | None:
        """The CPU time the container has used since it started (the engine's stats)."""
        self._going_on()
        return containers.cpu_seconds(self.client, container_id)

    def http(self, service: Service, method: str, path: str, port: int = 80, **options: Any) -> HttpAnswer:
        """Call a service's published port; an answer that never came is an HttpAnswer too."""
        return containers.call(service, method, path, port, **options)

    def host(self, service: Service):
        """A pytest-testinfra host inside a running service, through the exec API."""
        from testinfra.host import Host

        return Host(ExecBackend(self.client, service.container_id))

    @translated("running the image to completion")
    def run_to_completion(self, image: str, timeout_s: float, limits: Limits = DEFAULT_LIMITS) -> Completion:
        """Run the image's own command and collect what it prints, the first OUTPUT_CAP bytes
        (the chapter's 4.1 check)."""
        self._going_on()
        api = self.client.api
        container = api.create_container(
            image,
            labels=self.labels,
            host_config=api.create_host_config(network_mode="none", **limits.options(),
                                             **LEARNER_HARDENING),
            use_config_proxy=False,
        )
        self._containers.append(container["Id"])
        api.start(container["Id"])
        try:
            exit_code = api.wait(container["Id"], timeout=timeout_s)["StatusCode"]
        except Exception:  # the wait timed out (requests raises its own types)
            api.kill(container["Id"])
            exit_code = None
        printed = containers.log_head(self.client, container["Id"])  # at most OUTPUT_CAP
        return Completion(exit_code, printed.data().decode(errors="replace"), printed.cut)

    # -- clean-up -------------------------------------------------------------------------

    @translated("cleaning up")
    def close(self) -> None:
        """Remove every container, network and throw-away image of this session."""
        api = self.client.api
        owned = {"label": [f"{SESSION_LABEL}={self.session}"]}
        labelled = [item["Id"] for item in api.containers(all=True, filters=owned)]

        def remove(container_id: str) -> None:
            try:
                api.remove_container(container_id, force=True, v=True)
            except NotFound:
                pass

        # Each removal stops a container and waits for it: side by side, not one by one.
        with ThreadPoolExecutor(max_workers=REMOVERS) as removers:
            list(removers.map(remove, set(self._containers) | set(labelled)))
        for network_id in self._networks:
            try:
                api.remove_network(network_id)
            except NotFound:
                pass
        for image_id in reversed(self._images):  # children before their parents
            try:
                api.remove_image(image_id, force=True, noprune=False)
            except (NotFound, APIError):
                pass  # shared with a kept image: nothing of ours to free
        self._containers.clear()
        self._networks.clear()
        self._images.clear()


@translated("removing leftovers")
def remove_leftovers(engine: Engine, owner: str) -> int:
    """Remove the containers, networks and throw-away images that an earlier session left
    behind when it could not clean up (killed, or the machine stopped)."""
    api = engine.client.api
    filters = {"label": [f"{OWNER_LABEL}={owner}"]}
    removed = 0
    for item in api.containers(all=True, filters=filters):
        api.remove_container(item["Id"], force=True, v=True)
        removed += 1
    for network in api.networks(filters=filters):
        api.remove_network(network["Id"])
        removed += 1
    for image in api.images(filters=filters):
        try:
            api.remove_image(image["Id"], force=True)
            removed += 1
        except NotFound:
            pass  # went with an image removed before it
    return removed


def remove_leftover_cgroups(engine: Engine) -> int:
    """Remove the empty build cgroups a killed grader left; they are this machine's, so only
    for an engine on a local socket."""
    return builds.remove_empty_build_cgroups() if engine.is_local_socket else 0

