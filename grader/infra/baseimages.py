"""The diamol/* base images: use the local ones, else pull, else build offline stand-ins.

The labs build `FROM diamol/golang` and friends. When the real images are neither on the
machine nor pullable (no registry is reachable), each is built under the same tag from the
recipe folder `recipes/<name>/` on a Debian root filesystem made by debootstrap
(`recipes/rootfs/`). A stand-in carries its recipe hash as a label, so building again when
nothing changed costs one `docker image inspect` per image.

Nothing here prints: progress goes to `on_progress`, problems are `BaseImageError`s that say
what is missing and how to get it.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import docker
from docker.errors import APIError, ContainerError, DockerException, ImageNotFound

from grader.buildlog import STEP_LINE, BuildStep, created_images, follow_step
from grader.errors import BaseImageError
from grader.paths import cache_dir
from grader.sandbox import OWNER_LABEL

Progress = Callable[[str], None]

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
ROOTFS_DIR = RECIPES_DIR / "rootfs"
ROOTFS_IMAGE = "dockerlab/debian:bookworm"
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# Documentation in a recipe folder is neither build context nor part of the recipe hash.
NOT_BUILD_INPUT = {"README.md"}

STAND_IN_LABEL = "dockerlab.stand-in"
RECIPE_LABEL = "dockerlab.recipe"
HASH_LABEL = "dockerlab.recipe-hash"
TOOLS_LABEL = "dockerlab.tools"
TOOLS_SEPARATOR = "; "

PULL_TIMEOUT_S = 20
# Peak use of the debootstrap tree plus its tarball (about 210 MB + 85 MB), with margin.
ROOTFS_WORK_MB = 400
# debootstrap hides its downloader's errors: a folder this full when it fails was the cause.
NEARLY_FULL_MB = 32
ROOTFS_IMPORT_MB = 150
NO_SPACE = re.compile(r"no space left on device|ENOSPC|wrote only \d+ of \d+ bytes", re.IGNORECASE)
# debootstrap's one-line-per-package chatter; the stage lines (and the E: summary of any
# failed downloads) are kept for on_progress.
DEBOOTSTRAP_PACKAGE_LINE = re.compile(
    r"^(I: (Retrieving|Validating|Extracting|Unpacking|Configuring) \S+( \S+)?"
    r"|W: Couldn't download package .*)$"
)
# Debian's Maven writes colour resets even in batch mode; tool versions are plain text.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
LOG_TAIL_LINES = 15


@dataclass(frozen=True)
class Recipe:
    """How one diamol/* image is stood in for: the folder `recipes/<name>/` builds it."""

    name: str
    image: str
    probe: str  # shell line printing the key tool versions, one a line
    build_mb: int  # room the build needs in Docker's data root
    host_ca: bool = False  # ship the host's CA bundle in the build context as host-ca/

    @property
    def folder(self) -> Path:
        return RECIPES_DIR / self.name


# In build order; every stand-in starts from ROOTFS_IMAGE (base only for a builder stage).
RECIPES = (
    Recipe("base", "diamol/base", "busybox | head -n 1", build_mb=100),
    Recipe("golang", "diamol/golang", "go version", build_mb=900),
    Recipe("openjdk", "diamol/openjdk", "java -version 2>&1 | head -n 1", build_mb=500),
    Recipe(
        "maven", "diamol/maven",
        "mvn -B -v | sed -n 1p; java -version 2>&1 | sed -n 1p",  # sed reads all: no broken pipe
        build_mb=800,
    ),
    Recipe("node", "diamol/node", 'echo "node $(node -v)"; echo "npm $(npm -v)"',
           build_mb=600, host_ca=True),
)
RECIPES_BY_IMAGE = {recipe.image: recipe for recipe in RECIPES}


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
    client: docker.DockerClient,
    names: list[str] | None = None,
    on_progress: Progress | None = None,
) -> list[BaseImageStatus]:
    """Make every named image (all five by default) present and current; report on each."""
    progress = on_progress or (lambda _line: None)
    recipes = select_recipes(names)
    with build_lock(progress):
        hashes = recipe_hashes(recipes)
        found = {r.image: inspect_image(client, r.image) for r in recipes}
        missing = [image for image, attrs in found.items() if attrs is None]
        pulled = try_pull(client, missing, progress) if missing else set()
        pending = [
            r for r in recipes
            if r.image not in pulled and needs_build(found[r.image], hashes[r.name])
        ]
        build_seconds: dict[str, float] = {}
        if pending:
            check_docker_space(client, sum(r.build_mb for r in pending) + ROOTFS_IMPORT_MB)
            ensure_rootfs(client, progress)
            for recipe in pending:
                build_seconds[recipe.image] = build_stand_in(
                    client, recipe, hashes[recipe.name], progress
                )
        statuses = [status_of(client, r, hashes[r.name]) for r in recipes]
    for status in statuses:
        status.build_seconds = build_seconds.get(status.name)
    return statuses


def describe_base_images(client: docker.DockerClient) -> list[BaseImageStatus]:
    """What is there now, without pulling or building anything."""
    hashes = recipe_hashes(RECIPES)
    return [status_of(client, recipe, hashes[recipe.name]) for recipe in RECIPES]


def select_recipes(names: list[str] | None) -> list[Recipe]:
    if names is None:
        return list(RECIPES)
    unknown = [name for name in names if name not in RECIPES_BY_IMAGE]
    if unknown:
        raise BaseImageError(
            f"No recipe for {', '.join(unknown)}.",
            hint=f"Base images with recipes: {', '.join(RECIPES_BY_IMAGE)}.",
        )
    return [recipe for recipe in RECIPES if recipe.image in names]


# --- recipe hashing -------------------------------------------------------------------

ContextFiles = dict[str, bytes | None]  # path in the build context -> content (None: folder)


def recipe_files(folder: Path) -> ContextFiles:
    """The build inputs in a recipe folder, keyed by their path inside it."""
    files: ContextFiles = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.name in NOT_BUILD_INPUT:
            continue
        files[relative] = None if path.is_dir() else path.read_bytes()
    return files


def context_files(recipe: Recipe, host_ca_bundle: Path = HOST_CA_BUNDLE) -> ContextFiles:
    files = recipe_files(recipe.folder)
    if recipe.host_ca:
        # The folder is there even without a bundle, so the recipe's COPY always works.
        files["host-ca"] = None
        if host_ca_bundle.is_file():
            files["host-ca/host-bundle.crt"] = host_ca_bundle.read_bytes()
    return files


def content_hash(files: ContextFiles, parent: str = "") -> str:
    """One short digest of the parent image's hash and every path and content."""
    digest = hashlib.sha256(parent.encode())
    for path in sorted(files):
        content = files[path]
        digest.update(f"\0{path}\0{'dir' if content is None else len(content)}\0".encode())
        digest.update(content or b"")
    return digest.hexdigest()[:16]


def rootfs_hash(mirror: str | None = None) -> str:
    settings = f"suite={SUITE}\nmirror={mirror or debian_mirror()}\n".encode()
    return content_hash({**recipe_files(ROOTFS_DIR), "<settings>": settings})


def recipe_hash(recipe: Recipe, parent: str, host_ca_bundle: Path = HOST_CA_BUNDLE) -> str:
    # The probe writes the tools label, so it is part of what the image is built from.
    files = {**context_files(recipe, host_ca_bundle), "<probe>": recipe.probe.encode()}
    return content_hash(files, parent)


def recipe_hashes(recipes: list[Recipe] | tuple[Recipe, ...]) -> dict[str, str]:
    parent = rootfs_hash()
    return {recipe.name: recipe_hash(recipe, parent) for recipe in recipes}


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


# --- what is there ----------------------------------------------------------------------


def inspect_image(client: docker.DockerClient, name: str) -> dict | None:
    try:
        return client.api.inspect_image(name)
    except ImageNotFound:
        return None
    except APIError as exc:
        raise BaseImageError(f"Could not inspect {name}: {exc.explanation or exc}") from exc


def labels_of(attrs: dict) -> dict[str, str]:
    return (attrs.get("Config") or {}).get("Labels") or {}


def needs_build(attrs: dict | None, recipe_hash: str) -> bool:
    """Missing, or a stand-in from another recipe; a real diamol image is never replaced."""
    if attrs is None:
        return True
    labels = labels_of(attrs)
    return labels.get(STAND_IN_LABEL) == "true" and labels.get(HASH_LABEL) != recipe_hash


def status_of(client: docker.DockerClient, recipe: Recipe, recipe_hash: str) -> BaseImageStatus:
    attrs = inspect_image(client, recipe.image)
    if attrs is None:
        return BaseImageStatus(recipe.image, False, None, None, [], recipe.name)
    labels = labels_of(attrs)
    if labels.get(STAND_IN_LABEL) == "true":
        source = "stand-in"
        tools = [line for line in labels.get(TOOLS_LABEL, "").split(TOOLS_SEPARATOR) if line]
    else:
        # Images that came from a registry remember its digest; ones built here do not.
        source = "pulled" if attrs.get("RepoDigests") else "local"
        tools = probe_tools(client, recipe.image, recipe.probe)
    return BaseImageStatus(
        name=recipe.image,
        present=True,
        source=source,
        size_mb=round(attrs["Size"] / 1e6, 1),
        tools=tools,
        recipe=recipe.name,
        stale=source == "stand-in" and labels.get(HASH_LABEL) != recipe_hash,
    )


def probe_tools(client: docker.DockerClient, image: str, probe: str) -> list[str]:
    """The probe's output lines, run in a throw-away container with no network."""
    try:
        output = client.containers.run(
            image, ["sh", "-c", probe], remove=True, network_disabled=True,
            stdout=True, stderr=True, labels={OWNER_LABEL: "grader"},
        )
    except (ContainerError, APIError):
        return []
    text = ANSI_ESCAPE.sub("", output.decode(errors="replace"))
    return [line.strip() for line in text.splitlines() if line.strip()]


# --- pulling --------------------------------------------------------------------------


def try_pull(client: docker.DockerClient, images: list[str], progress: Progress) -> set[str]:
    """Pull all at once, waiting PULL_TIMEOUT_S at most; the ones that arrived."""
    progress(f"not on this machine: {', '.join(images)}; trying `docker pull` "
             f"({PULL_TIMEOUT_S} s at most)")
    failures: dict[str, str] = {}

    def pull(image: str) -> None:
        try:
            client.api.pull(image, tag="latest")
        except DockerException as exc:
            failures[image] = getattr(exc, "explanation", None) or str(exc)

    # A registry that never answers must not hold us: the threads are left to finish alone.
    threads = [threading.Thread(target=pull, args=(image,), daemon=True) for image in images]
    deadline = time.monotonic() + PULL_TIMEOUT_S
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    pulled = set()
    for image, thread in zip(images, threads, strict=True):
        # The pull API reports most failures inside a 200 reply: only the image proves success.
        if not thread.is_alive() and inspect_image(client, image) is not None:
            pulled.add(image)
            progress(f"{image}: pulled")
        else:
            reason = failures.get(image, "no answer in time" if thread.is_alive() else "not found")
            progress(f"{image}: pull failed ({first_line(reason)}); building an offline stand-in")
    return pulled


# --- the Debian root filesystem --------------------------------------------------------


def ensure_rootfs(client: docker.DockerClient, progress: Progress) -> None:
    """ROOTFS_IMAGE from the current rootfs recipe, reusing the image or a cached tarball."""
    mirror = debian_mirror()
    wanted = rootfs_hash(mirror)
    attrs = inspect_image(client, ROOTFS_IMAGE)
    if attrs is not None and labels_of(attrs).get(HASH_LABEL) == wanted:
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
    import_rootfs(client, tarball, wanted, progress)


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


def import_rootfs(client: docker.DockerClient, tarball: Path, recipe_hash: str,
                  progress: Progress) -> None:
    repository, tag = ROOTFS_IMAGE.split(":")
    changes = [
        line.strip()
        for line in (ROOTFS_DIR / "image-config.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    changes.append(f'LABEL {RECIPE_LABEL}="rootfs" {HASH_LABEL}="{recipe_hash}"')
    progress(f"{ROOTFS_IMAGE}: docker import {tarball.name}")
    try:
        client.api.import_image_from_file(str(tarball), repository=repository, tag=tag,
                                          changes=changes)
    except APIError as exc:
        raise build_error(client, ROOTFS_IMAGE, str(exc), ROOTFS_IMPORT_MB, []) from exc
    attrs = inspect_image(client, ROOTFS_IMAGE)
    if attrs is None or labels_of(attrs).get(HASH_LABEL) != recipe_hash:
        raise BaseImageError(f"`docker import` of {tarball} did not produce {ROOTFS_IMAGE}.",
                             hint=f"Delete {tarball} and try again.")


# --- building a stand-in ---------------------------------------------------------------


def build_stand_in(client: docker.DockerClient, recipe: Recipe, recipe_hash: str,
                   progress: Progress) -> float:
    """Build the recipe, record its tools as a label and tag it; the seconds it took."""
    started = time.monotonic()
    replaced = inspect_image(client, recipe.image)
    progress(f"{recipe.image}: building the offline stand-in from recipes/{recipe.name}")
    image_id = run_build(client, recipe.image, tar_context(context_files(recipe)),
                         recipe.build_mb, progress)
    tools = probe_tools(client, image_id, recipe.probe)
    if not tools:
        remove_image(client, image_id)
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
    run_build(client, recipe.image, tar_context({"Dockerfile": f"FROM {image_id}\n".encode()}),
              1, lambda _line: None, tag=recipe.image, labels=labels)
    if replaced is not None:
        remove_image(client, replaced["Id"])  # the old stand-in, now untagged
    seconds = time.monotonic() - started
    progress(f"{recipe.image}: built in {seconds:.0f} s ({'; '.join(tools)})")
    return seconds


def run_build(client: docker.DockerClient, image: str, context: bytes, needs_mb: int,
              progress: Progress, tag: str | None = None,
              labels: dict[str, str] | None = None) -> str:
    """Run one classic-builder build; the new image's id, or a BaseImageError with the log."""
    log: list[str] = []
    steps: list[BuildStep] = []
    image_id = error = None
    try:
        for chunk in client.api.build(
            fileobj=io.BytesIO(context), custom_context=True, tag=tag, labels=labels,
            rm=True, forcerm=True, pull=False, decode=True,
        ):
            if "error" in chunk:
                error = chunk["error"].strip()
            image_id = (chunk.get("aux") or {}).get("ID", image_id)
            for line in chunk.get("stream", "").splitlines():
                log.append(line)
                if STEP_LINE.match(line):
                    progress(f"{image}: {line}")
                follow_step(line, steps)
    except DockerException as exc:
        error = getattr(exc, "explanation", None) or str(exc)
    if error is None and image_id:
        return image_id
    raise build_error(client, image, error or "the build reported no image", needs_mb, log,
                      created_images(steps))


def build_error(client: docker.DockerClient, image: str, error: str, needs_mb: int,
                log: list[str], layers: list[str] | None = None) -> BaseImageError:
    """The error to raise for a failed build; out of disk space, its layers are removed."""
    tail = "\n".join(log[-LOG_TAIL_LINES:])
    if NO_SPACE.search(error) or NO_SPACE.search(tail):
        # The layers of a build cut short only fill the disk further.
        for layer in reversed(layers or []):
            remove_image(client, layer)
        root, free_mb = docker_root_space(client)
        free = f"{free_mb} MB are free" if free_mb is not None else "free space unknown"
        return BaseImageError(
            f"Building {image} ran out of disk space in Docker's data root {root} "
            f"({free}; this build needs about {needs_mb} MB). Its partial layers were removed.",
            hint="Free space (`docker system prune`, or remove unused images) and try again.",
        )
    return BaseImageError(f"Building the stand-in for {image} failed: {first_line(error)}",
                          hint=f"Last lines of the build:\n{tail}" if tail else "")


def remove_image(client: docker.DockerClient, image_id: str) -> None:
    """Remove an image and its untagged parents, unless something still uses it."""
    try:
        client.api.remove_image(image_id)
    except (ImageNotFound, APIError):
        pass


def tar_context(files: ContextFiles) -> bytes:
    """A build context with fixed modes and times, so the builder's cache can match."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path in sorted(files):
            content = files[path]
            info = tarfile.TarInfo(path)
            info.mtime = 0
            if content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                archive.addfile(info)
            else:
                info.size, info.mode = len(content), 0o644
                archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


# --- disk space, host tools, locking ---------------------------------------------------


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


def docker_root_space(client: docker.DockerClient) -> tuple[str, int | None]:
    """Docker's data root and its free MB, when the engine's files are on this machine."""
    try:
        root = client.info().get("DockerRootDir", "/var/lib/docker")
    except DockerException:
        root = "/var/lib/docker"
    local_engine = client.api.base_url == "http+docker://localhost"  # docker-py's unix socket
    if local_engine and Path(root).is_dir():
        return root, free_space_mb(Path(root))
    return root, None


def check_docker_space(client: docker.DockerClient, needs_mb: int) -> None:
    root, free_mb = docker_root_space(client)
    if free_mb is not None and free_mb < needs_mb:
        raise BaseImageError(
            f"Not enough disk space in Docker's data root {root} to build the base images: "
            f"they need about {needs_mb} MB, {free_mb} MB are free.",
            hint="Free space (`docker system prune`, or remove unused images) and try again.",
        )


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
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", package]
    done = subprocess.run(install, env=env, capture_output=True, text=True)
    if done.returncode != 0:  # perhaps no package lists yet
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        done = subprocess.run(install, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BaseImageError(f"`{' '.join(install)}` failed (exit {done.returncode}).",
                             hint=(done.stderr or done.stdout).strip()[-500:])


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


@contextmanager
def build_lock(progress: Progress) -> Iterator[None]:
    """One builder at a time per machine: a second caller waits, then finds the images built."""
    with open(cache_dir() / "baseimages.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress("another dockerlab is building base images; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def first_line(text: str) -> str:
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else ""
