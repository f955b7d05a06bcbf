"""The Debian root filesystem every stand-in starts from: made with debootstrap into a
tarball in the cache folder (needs root), then `docker import`ed as ROOTFS_IMAGE."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from grader.engine import Engine, admin
from grader.errors import BaseImageError
from grader.infra import Progress
from grader.infra.apt import apt_install, debian_mirror
from grader.infra.disk import NO_SPACE, check_free_space, free_space_mb
from grader.infra.recipes import HASH_LABEL, RECIPE_LABEL, ROOTFS_DIR, SUITE, rootfs_hash
from grader.infra.standins import LOG_TAIL_LINES, build_error
from grader.paths import cache_dir

ROOTFS_IMAGE = "dockerlab/debian:bookworm"
# Peak use of the debootstrap tree plus its tarball (about 210 MB + 85 MB), with margin.
ROOTFS_WORK_MB = 400
# debootstrap hides its downloader's errors: a folder this full when it fails was the cause.
NEARLY_FULL_MB = 32
ROOTFS_IMPORT_MB = 150
# debootstrap's one-line-per-package chatter; the stage lines (and the E: summary of any
# failed downloads) are kept for on_progress.
DEBOOTSTRAP_PACKAGE_LINE = re.compile(
    r"^(I: (Retrieving|Validating|Extracting|Unpacking|Configuring) \S+( \S+)?"
    r"|W: Couldn't download package .*)$"
)


def ensure_rootfs(engine: Engine, progress: Progress) -> None:
    """ROOTFS_IMAGE from the current rootfs recipe, reusing the image or a cached tarball."""
    mirror = debian_mirror()
    wanted = rootfs_hash(mirror)
    image = admin.stored_image(engine, ROOTFS_IMAGE)
    if image is not None and image.labels.get(HASH_LABEL) == wanted:
        return
    work = cache_dir() / "rootfs"
    work.mkdir(parents=True, exist_ok=True)
    tarball = work / f"{SUITE}-{wanted}.tar"
    if not tarball.exists():
        started = time.monotonic()
        build_rootfs_tarball(tarball, mirror, progress)
        progress(f"{ROOTFS_IMAGE}: root filesystem made in {time.monotonic() - started:.0f} s")
    for stale in work.glob(f"{SUITE}-*.tar"):
        if stale != tarball:
            stale.unlink()
    import_rootfs(engine, tarball, wanted, progress)


def build_rootfs_tarball(tarball: Path, mirror: str, progress: Progress,
                         needs_mb: int = ROOTFS_WORK_MB) -> None:
    """debootstrap into a folder next to `tarball`, then pack it; needs root and disk space.

    On failure nothing is left behind: neither the tree nor a partial tarball.
    """
    require_root_tool("debootstrap", "debootstrap", progress)
    check_free_space(tarball.parent, needs_mb, "the root filesystem work folder")
    tree = tarball.with_suffix(".d")
    partial = tarball.with_suffix(".partial")
    remove_tree(tree)  # a run killed midway may have left its tree, /proc still mounted
    progress(f"{ROOTFS_IMAGE}: debootstrap --variant=minbase {SUITE} from {mirror}")
    command = ["sh", str(ROOTFS_DIR / "build-rootfs.sh"), SUITE, mirror, str(tree), str(partial)]
    log: list[str] = []
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               errors="replace", env=dict(os.environ, LC_ALL="C"))
    assert process.stdout is not None
    for line in process.stdout:
        line = line.rstrip()
        log.append(line)
        if not DEBOOTSTRAP_PACKAGE_LINE.match(line):
            progress(f"{ROOTFS_IMAGE}: {line}")
    if process.wait() == 0:
        partial.rename(tarball)
        return
    free_mb = free_space_mb(tarball.parent)  # before the clean-up gives the space back
    remove_tree(tree)
    partial.unlink(missing_ok=True)
    tail = "\n".join(log[-LOG_TAIL_LINES:])
    if NO_SPACE.search("\n".join(log)) or free_mb < NEARLY_FULL_MB:
        raise BaseImageError(
            f"Making the Debian root filesystem ran out of disk space in {tarball.parent} "
            f"({free_mb} MB were free when it stopped; it needs about {ROOTFS_WORK_MB} MB). "
            "The partial files were removed.",
            hint="Free some space there, or point DOCKERLAB_CACHE at a folder on a larger disk.",
        )
    raise BaseImageError(
        f"debootstrap of Debian {SUITE} from {mirror} failed (exit {process.returncode}).",
        hint=f"Is the mirror reachable? Set DOCKERLAB_DEBIAN_MIRROR to use another.\n{tail}",
    )


def import_rootfs(engine: Engine, tarball: Path, recipe_hash: str, progress: Progress) -> None:
    changes = [
        line.strip()
        for line in (ROOTFS_DIR / "image-config.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    changes.append(f'LABEL {RECIPE_LABEL}="rootfs" {HASH_LABEL}="{recipe_hash}"')
    progress(f"{ROOTFS_IMAGE}: docker import {tarball.name}")
    refused = admin.import_tarball(engine, tarball, ROOTFS_IMAGE, changes)
    if refused:
        raise build_error(engine, ROOTFS_IMAGE, refused, ROOTFS_IMPORT_MB, [])
    image = admin.stored_image(engine, ROOTFS_IMAGE)
    if image is None or image.labels.get(HASH_LABEL) != recipe_hash:
        raise BaseImageError(f"`docker import` of {tarball} did not produce {ROOTFS_IMAGE}.",
                             hint=f"Delete {tarball} and try again.")


def require_root_tool(command: str, package: str, progress: Progress) -> None:
    """debootstrap needs root; as root, a missing tool is installed with apt-get."""
    if os.geteuid() != 0:
        raise BaseImageError(
            "Building the offline base images needs root: debootstrap makes a Debian root "
            "filesystem with chroot.",
            hint="Run `sudo make images` once, or make the real diamol/* images available "
                 "(`docker pull diamol/golang` ...) and try again.",
        )
    if shutil.which(command) or Path("/usr/sbin", command).exists():
        return
    if shutil.which("apt-get") is None:
        raise BaseImageError(f"`{command}` is missing and there is no apt-get to install it.",
                             hint=f"Install the {package} package, then try again.")
    progress(f"installing {package} with apt-get")
    apt_install([package], BaseImageError)


def remove_tree(folder: Path) -> None:
    """rm -rf that first detaches anything mounted below (debootstrap mounts /proc there)."""
    if not folder.exists():
        return
    prefix = str(folder.resolve()) + "/"
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
    for point in sorted(points, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)
