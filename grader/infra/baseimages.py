"""The diamol/* base images: use the local ones, else pull, else build offline stand-ins.

The labs build `FROM diamol/golang` and friends. When the real images are neither on the
machine nor pullable (no registry is reachable), each is built under the same tag from the
recipe folder `recipes/<name>/` (`recipes.py`) on a Debian root filesystem made by
debootstrap (`rootfs.py`); `standins.py` builds one. A stand-in carries its recipe hash as
a label, so building again when nothing changed costs one `docker image inspect` per image.

Nothing here prints: progress goes to `on_progress`, problems are `BaseImageError`s that say
what is missing and how to get it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.engine import Engine, admin
from grader.engine.admin import StoredImage
from grader.infra import Progress
from grader.infra.disk import check_docker_space
from grader.infra.lock import machine_lock
from grader.infra.recipes import (
    HASH_LABEL,
    RECIPES,
    STAND_IN_LABEL,
    TOOLS_LABEL,
    TOOLS_SEPARATOR,
    Recipe,
    recipe_hashes,
    select_recipes,
)
from grader.infra.rootfs import ROOTFS_IMPORT_MB, ensure_rootfs
from grader.infra.standins import build_stand_in, first_line, probe_tools

PULL_TIMEOUT_S = 20


@dataclass
class BaseImageStatus:
    name: str  # the image, e.g. "diamol/golang"
    present: bool
    source: str | None  # "local", "pulled" or "stand-in"; None when missing
    size_mb: float | None
    tools: list[str] = field(default_factory=list)  # e.g. ["go version go1.19.8 linux/amd64"]
    recipe: str = ""  # the folder under grader/infra/recipes/ that stands in for it
    stale: bool = False  # a stand-in from an older recipe: ensure_base_images rebuilds it
    build_seconds: float | None = None  # set when this call built it


def ensure_base_images(
    engine: Engine,
    names: list[str] | None = None,
    on_progress: Progress | None = None,
) -> list[BaseImageStatus]:
    """Make every named image (all five by default) present and current; report on each."""
    progress = on_progress or (lambda _line: None)
    recipes = select_recipes(names)
    waiting = "another dockerlab is building base images; waiting for it"
    with machine_lock("baseimages.lock", on_wait=lambda: progress(waiting)):
        hashes = recipe_hashes(recipes)
        found = {r.image: admin.stored_image(engine, r.image) for r in recipes}
        missing = [image for image, stored in found.items() if stored is None]
        pulled = try_pull(engine, missing, progress) if missing else set()
        pending = [
            r for r in recipes
            if r.image not in pulled and needs_build(found[r.image], hashes[r.name])
        ]
        build_seconds: dict[str, float] = {}
        if pending:
            check_docker_space(engine, sum(r.build_mb for r in pending) + ROOTFS_IMPORT_MB)
            ensure_rootfs(engine, progress)
            for recipe in pending:
                build_seconds[recipe.image] = build_stand_in(
                    engine, recipe, hashes[recipe.name], progress
                )
        statuses = [status_of(engine, r, hashes[r.name]) for r in recipes]
    for status in statuses:
        status.build_seconds = build_seconds.get(status.name)
    return statuses


def describe_base_images(engine: Engine) -> list[BaseImageStatus]:
    """What is there now, without pulling or building anything."""
    hashes = recipe_hashes(RECIPES)
    return [status_of(engine, recipe, hashes[recipe.name]) for recipe in RECIPES]


def needs_build(image: StoredImage | None, recipe_hash: str) -> bool:
    """Missing, or a stand-in from another recipe; a real diamol image is never replaced."""
    if image is None:
        return True
    return image.labels.get(STAND_IN_LABEL) == "true" and image.labels.get(HASH_LABEL) != recipe_hash


def status_of(engine: Engine, recipe: Recipe, recipe_hash: str) -> BaseImageStatus:
    image = admin.stored_image(engine, recipe.image)
    if image is None:
        return BaseImageStatus(recipe.image, False, None, None, [], recipe.name)
    labels = image.labels
    if labels.get(STAND_IN_LABEL) == "true":
        source = "stand-in"
        tools = [line for line in labels.get(TOOLS_LABEL, "").split(TOOLS_SEPARATOR) if line]
    else:
        # Images that came from a registry remember its digest; ones built here do not.
        source = "pulled" if image.from_registry else "local"
        tools = probe_tools(engine, recipe.image, recipe.probe)
    return BaseImageStatus(
        name=recipe.image,
        present=True,
        source=source,
        size_mb=round(image.size_bytes / 1e6, 1),
        tools=tools,
        recipe=recipe.name,
        stale=source == "stand-in" and labels.get(HASH_LABEL) != recipe_hash,
    )


def try_pull(engine: Engine, images: list[str], progress: Progress) -> set[str]:
    """Pull all at once, waiting PULL_TIMEOUT_S at most; the ones that arrived."""
    progress(f"not on this machine: {', '.join(images)}; trying `docker pull` "
             f"({PULL_TIMEOUT_S} s at most)")
    failed = admin.pull(engine, images, PULL_TIMEOUT_S)
    for image in images:
        if image in failed:
            progress(f"{image}: pull failed ({first_line(failed[image])}); "
                     "building an offline stand-in")
        else:
            progress(f"{image}: pulled")
    return {image for image in images if image not in failed}
