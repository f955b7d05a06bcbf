"""Free disk space: in a folder on this machine, and in Docker's data root when the engine's
files are on this machine too."""

from __future__ import annotations

import os
import re
from pathlib import Path

from grader.engine import Engine, admin
from grader.errors import BaseImageError

NO_SPACE = re.compile(r"no space left on device|ENOSPC|wrote only \d+ of \d+ bytes", re.IGNORECASE)


def free_space_mb(folder: Path) -> int:
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize // 1_000_000


def check_free_space(folder: Path, needs_mb: int, what: str) -> None:
    free_mb = free_space_mb(folder)
    if free_mb < needs_mb:
        raise BaseImageError(
            f"Not enough disk space for {what} {folder}: it needs about {needs_mb} MB, "
            f"{free_mb} MB are free.",
            hint="Free some space there, or point DOCKERLAB_CACHE at a folder on a larger disk.",
        )


def docker_root_space(engine: Engine) -> tuple[str, int | None]:
    """Docker's data root and its free MB, when the engine's files are on this machine."""
    root = admin.data_root(engine)
    if engine.is_local_socket and Path(root).is_dir():
        return root, free_space_mb(Path(root))
    return root, None


def check_docker_space(engine: Engine, needs_mb: int) -> None:
    root, free_mb = docker_root_space(engine)
    if free_mb is not None and free_mb < needs_mb:
        raise BaseImageError(
            f"Not enough disk space in Docker's data root {root} to build the base images: "
            f"they need about {needs_mb} MB, {free_mb} MB are free.",
            hint="Free space (`docker system prune`, or remove unused images) and try again.",
        )
