"""The engine's floor for a lab: what its containers cost with no grading at all.

Every service of the lab is created, started and asked its ready path once (polled until it
answers), all at the same time with plain SDK calls, then removed, also all at once. A
grading does the same container work and more (builds through the cache, checks, reports),
so a warm re-grade can approach this figure but not beat it.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import docker
import requests

from grader.spec import ExerciseSpec, LabSpec

FLOOR_LABEL = "dockerlab.bench"
POLL_S = 0.05


def one_service(client: docker.DockerClient, network: str, run: uuid.UUID,
                exercise: ExerciseSpec, tag: str) -> str:
    spec = exercise.run
    container = client.containers.run(
        tag,
        detach=True,
        labels={FLOOR_LABEL: run.hex},
        environment=spec.env,
        ports={f"{inside}/tcp": ("127.0.0.1", None) for inside in spec.ports},
        network=network,
    )
    container.reload()
    if spec.ready.path is not None:
        port = container.attrs["NetworkSettings"]["Ports"][f"{spec.ready.port}/tcp"][0]["HostPort"]
        url = f"http://127.0.0.1:{port}{spec.ready.path}"
        deadline = time.monotonic() + spec.ready.timeout_s
        while time.monotonic() < deadline:
            try:
                if requests.get(url, timeout=2).status_code < 500:
                    break
            except requests.RequestException:
                pass
            time.sleep(POLL_S)
        else:
            raise RuntimeError(f"{tag} never answered {spec.ready.path}")
    return container.id


def floor_seconds(client: docker.DockerClient, lab: LabSpec, tag_prefix: str) -> float:
    """Seconds to start the lab's services together, get one answer each, remove them."""
    services = [exercise for exercise in lab.exercises if exercise.run is not None]
    run = uuid.uuid4()
    network = client.networks.create(f"floor-{run.hex[:12]}", labels={FLOOR_LABEL: run.hex})
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=len(services)) as pool:
            ids = list(pool.map(
                lambda exercise: one_service(client, network.name, run, exercise,
                                             tag_prefix + exercise.image),
                services,
            ))
            list(pool.map(lambda cid: client.api.remove_container(cid, force=True), ids))
        return time.monotonic() - started
    finally:
        for leftover in client.containers.list(all=True, filters={"label": f"{FLOOR_LABEL}={run.hex}"}):
            leftover.remove(force=True)
        network.remove()
