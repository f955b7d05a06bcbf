"""How fast grading is: a cold grade, a warm re-grade, and the engine's own floor.

The cold run is a fresh clone's: the engine's build cache holds nothing for the lab's
Dockerfiles. The warm re-grades change nothing, so every step comes from the cache and the
costly checks from the outcome memo. The floor is the same lab's services started together
with plain SDK calls, one answer each, then removed (benchmarks/engine_floor.py): what the
containers cost with no grading at all. Warm and floor are the median of three. The
machines here are shared and noisy: the ratios from one run are the figures to quote.

A fresh clone is made without emptying anyone's cache: for the duration, each diamol/* tag
points to a one-label child of the real base image, which no build has used yet. Afterwards
the tags point back and every image built on those children is removed.

(`--no-cache` is not used for the first run: two Dockerfiles that start alike, such as
`FROM diamol/golang` + `WORKDIR /src`, then leave twin layers, and the classic builder's next
cached build may follow the other Dockerfile's twin and rebuild from there.)

    make bench                     # or: .venv/bin/python -m benchmarks.grade_cache [lab]
"""

import io
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
from docker.errors import APIError, NotFound

from benchmarks.engine_floor import floor_seconds
from grader.infra.baseimages import ensure_base_images
from grader.infra.engine import ensure_engine
from grader.infra.recipes import RECIPES
from grader.pipeline.config import RunConfig
from grader.runner import grade
from grader.spec import load_lab

REPO = Path(__file__).resolve().parents[1]
TAG_PREFIX = "dockerlab-bench-"
COLD_OVER_WARM = 20.0  # a warm re-grade at least this many times faster than a cold one
WARM_OVER_FLOOR = 1.5  # and at most this many times the engine's floor
REPEATS = 3
BENCH_LABEL = "dockerlab.bench"


def timed_grade(lab, engine):
    started = time.monotonic()
    result = grade(lab, lab.solution_dir, engine, config=RunConfig(tag_prefix=TAG_PREFIX))
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
    engine = ensure_engine()
    ensure_base_images(engine)
    client = engine.client
    lab = load_lab(REPO / "labs" / lab_name / "lab.yml")
    with bases_no_build_has_used(client):
        first, cold_s = timed_grade(lab, engine)
        warm = [timed_grade(lab, engine) for _ in range(REPEATS)]
        floor_s = statistics.median(floor_seconds(client, lab, TAG_PREFIX) for _ in range(REPEATS))
    warm_s = statistics.median(seconds for _, seconds in warm)
    scores_ok = first.passed and all(result.passed for result, _ in warm)
    print(f"{lab_name} solutions, cold grade (fresh cache): {cold_s:7.2f} s  score {first.percent:.0f}%")
    print(f"{lab_name} solutions, warm re-grade (median):  {warm_s:7.2f} s  score {warm[-1][0].percent:.0f}%")
    print(f"engine floor, services only (median):        {floor_s:7.2f} s")
    print(f"cold / warm:  {cold_s / warm_s:5.1f}x (target >= {COLD_OVER_WARM:.0f}x)")
    print(f"warm / floor: {warm_s / floor_s:5.2f}x (target <= {WARM_OVER_FLOOR}x)")
    met = cold_s / warm_s >= COLD_OVER_WARM and warm_s / floor_s <= WARM_OVER_FLOOR
    return 0 if met and scores_ok else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
