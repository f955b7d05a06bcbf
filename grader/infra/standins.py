"""Building one offline stand-in from its recipe: the build, the probe of its tools, the
labels that record both, and what to say when a build fails (out of disk space above all)."""

from __future__ import annotations

import re
import time

from grader.engine import Engine, admin
from grader.engine.buildlog import STEP_LINE, created_images
from grader.errors import BaseImageError
from grader.infra import Progress
from grader.infra.disk import NO_SPACE, docker_root_space
from grader.infra.recipes import (
    HASH_LABEL,
    RECIPE_LABEL,
    STAND_IN_LABEL,
    TOOLS_LABEL,
    TOOLS_SEPARATOR,
    Recipe,
    context_files,
    tar_context,
)

# A cold stand-in build downloads its packages; one that takes this long is stuck.
BUILD_TIMEOUT_S = 3600
# Debian's Maven writes colour resets even in batch mode; tool versions are plain text.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
LOG_TAIL_LINES = 15


def build_stand_in(engine: Engine, recipe: Recipe, recipe_hash: str, progress: Progress) -> float:
    """Build the recipe, record its tools as a label and tag it; the seconds it took."""
    started = time.monotonic()
    replaced = admin.stored_image(engine, recipe.image)
    progress(f"{recipe.image}: building the offline stand-in from recipes/{recipe.name}")
    image_id = build_image(engine, recipe.image, tar_context(context_files(recipe)),
                           recipe.build_mb, progress)
    tools = probe_tools(engine, image_id, recipe.probe)
    if not tools:
        admin.remove_image(engine, image_id)
        raise BaseImageError(
            f"The stand-in for {recipe.image} was built but `{recipe.probe}` fails in it.",
            hint=f"Check the recipe in {recipe.folder}.",
        )
    # Labels are fixed at build time: a one-line build on top adds them without a layer.
    labels = {
        STAND_IN_LABEL: "true",
        RECIPE_LABEL: recipe.name,
        HASH_LABEL: recipe_hash,
        TOOLS_LABEL: TOOLS_SEPARATOR.join(tools),
    }
    build_image(engine, recipe.image, tar_context({"Dockerfile": f"FROM {image_id}\n".encode()}),
                1, lambda _line: None, tag=recipe.image, labels=labels)
    if replaced is not None:
        admin.remove_image(engine, replaced.id)  # the old stand-in, now untagged
    seconds = time.monotonic() - started
    progress(f"{recipe.image}: built in {seconds:.0f} s ({'; '.join(tools)})")
    return seconds


def build_image(engine: Engine, image: str, context: bytes, needs_mb: int, progress: Progress,
                tag: str | None = None, labels: dict[str, str] | None = None) -> str:
    """Build a ready context (its steps go to `progress`); the new image's id, or a
    BaseImageError with the end of the log."""

    def on_line(line: str) -> None:
        if STEP_LINE.match(line):
            progress(f"{image}: {line}")

    outcome = admin.build_context(engine, context, tag=tag, labels=labels,
                                  timeout_s=BUILD_TIMEOUT_S, on_line=on_line)
    if outcome.ok:
        return outcome.image_id
    raise build_error(engine, image, outcome.error, needs_mb, outcome.log,
                      created_images(outcome.steps))


def build_error(engine: Engine, image: str, error: str, needs_mb: int,
                log: list[str], layers: list[str] | None = None) -> BaseImageError:
    """The error to raise for a failed build; out of disk space, its layers are removed."""
    tail = "\n".join(log[-LOG_TAIL_LINES:])
    if NO_SPACE.search(error) or NO_SPACE.search(tail):
        # The layers of a build cut short only fill the disk further.
        for layer in reversed(layers or []):
            admin.remove_image(engine, layer)
        root, free_mb = docker_root_space(engine)
        free = f"{free_mb} MB are free" if free_mb is not None else "free space unknown"
        return BaseImageError(
            f"Building {image} ran out of disk space in Docker's data root {root} "
            f"({free}; this build needs about {needs_mb} MB). Its partial layers were removed.",
            hint="Free space (`docker system prune`, or remove unused images) and try again.",
        )
    return BaseImageError(f"Building the stand-in for {image} failed: {first_line(error)}",
                          hint=f"Last lines of the build:\n{tail}" if tail else "")


def probe_tools(engine: Engine, image: str, probe: str) -> list[str]:
    """The probe's output lines, run in a throw-away container with no network."""
    output = admin.probe(engine, image, probe)
    if output is None:
        return []
    text = ANSI_ESCAPE.sub("", output)
    return [line.strip() for line in text.splitlines() if line.strip()]


def first_line(text: str) -> str:
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else ""
