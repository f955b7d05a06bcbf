"""The host's apt: installing Debian packages, and the Debian mirror its sources name."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from grader.errors import DockerlabError

DEFAULT_MIRROR = "http://deb.debian.org/debian"
OUTPUT_TAIL_CHARS = 500


def apt_install(packages: list[str], error: type[DockerlabError]) -> None:
    """`apt-get update`, then install `packages` without recommends (needs root); a failing
    command raises `error` with the command, its exit code and the end of its output."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise error(
                f"Installing {' '.join(packages)} failed: `{' '.join(command)}` exited "
                f"{done.returncode}.",
                hint=(done.stderr or done.stdout).strip()[-OUTPUT_TAIL_CHARS:],
            )


def debian_mirror() -> str:
    """The host's own Debian mirror (its apt sources), so the rootfs comes from the same place."""
    override = os.environ.get("DOCKERLAB_DEBIAN_MIRROR")
    if override:
        return override.rstrip("/")
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for source in sources:
        if source.suffix not in (".list", ".sources"):
            continue
        try:
            text = source.read_text(errors="replace")
        except OSError:
            continue
        for uri in re.findall(r"\bhttps?://\S+", text):
            if uri.rstrip("/").endswith("/debian"):
                return uri.rstrip("/")
    return DEFAULT_MIRROR
