"""How much the build cache saves a student: grade the reference solutions of a lab twice.

The first run is a fresh clone's: the engine's build cache holds nothing for the lab's
Dockerfiles. The second changes nothing, so every step should come from the cache. Prints
both wall-clock times and their ratio; the machines here are shared and noisy, so the ratio
from one run is the figure to quote.

A fresh clone is made without emptying anyone's cache: for the duration, each diamol/* tag
points to a one-label child of the real base image, which no build has used yet. Afterwards
the tags point back and every image built on those children is removed.

(`--no-cache` is not used for the first run: two Dockerfiles that start alike, such as
`FROM diamol/golang` + `WORKDIR /src`, then leave twin layers, and the classic builder's next
cached build may follow the other Dockerfile's twin and rebuild from there.)

    make bench                     # or: .venv/bin/python benchmarks/grade_cache.py [lab]
"""

import io
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
from docker.errors import APIError, NotFound

from grader.infra.baseimages import ensure_base_images
from grader.infra.engine import ensure_engine
from grader.infra.recipes import RECIPES
from grader.runner import grade
from grader.spec import load_lab

REPO = Path(__file__).resolve().parents[1]
TAG_PREFIX = "dockerlab-bench-"
TARGET_RATIO = 5.0
BENCH_LABEL = "dockerlab.bench"


def timed_grade(lab, client):
    started = time.monotonic()
    result = grade(lab, lab.solution_dir, client, tag_prefix=TAG_PREFIX)
    return result, time.monotonic() - started


@contextmanager
def bases_no_build_has_used(client: docker.DockerClient) -> Iterator[None]:
    originals = {recipe.image: client.api.inspect_image(recipe.image)["Id"] for recipe in RECIPES}
    run = uuid.uuid4().hex[:12]
    fresh: set[str] = set()
    try:
        for name, image_id in originals.items():
            child, _ = client.images.build(
                fileobj=io.BytesIO(f"FROM {image_id}\n".encode()),
                labels={BENCH_LABEL: run},
                rm=True,
            )
            fresh.add(child.id)
            client.api.tag(child.id, name)
        yield
    finally:
        for name, image_id in originals.items():
            client.api.tag(image_id, name)
        remove_with_descendants(client, fresh)


def remove_with_descendants(client: docker.DockerClient, roots: set[str]) -> None:
    parent_of = {image["Id"]: image.get("ParentId") or None for image in client.api.images(all=True)}

    def depth_below_roots(image_id: str) -> int | None:
        depth, current = 0, image_id
        while current is not None:
            if current in roots:
                return depth
            current, depth = parent_of.get(current), depth + 1
        return None

    doomed = {image_id: depth_below_roots(image_id) for image_id in parent_of}
    for image_id, _depth in sorted(
        ((i, d) for i, d in doomed.items() if d is not None), key=lambda pair: -pair[1]
    ):  # children before their parents
        try:
            client.api.remove_image(image_id, force=True, noprune=True)
        except (NotFound, APIError):
            pass


def main(lab_name: str = "lab4") -> int:
    client = ensure_engine()
    ensure_base_images(client)
    lab = load_lab(REPO / "labs" / lab_name / "lab.yml")
    with bases_no_build_has_used(client):
        first, cold_s = timed_grade(lab, client)
        second, warm_s = timed_grade(lab, client)
    ratio = cold_s / warm_s
    print(f"{lab_name} solutions, first run (fresh cache): {cold_s:7.1f} s  score {first.percent:.0f}%")
    print(f"{lab_name} solutions, second run (cached):     {warm_s:7.1f} s  score {second.percent:.0f}%")
    print(f"speed-up: {ratio:.1f}x (target ≥ {TARGET_RATIO:.0f}x)")
    return 0 if ratio >= TARGET_RATIO and first.passed and second.passed else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
