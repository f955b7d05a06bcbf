"""The recipes of the offline stand-ins: which folder builds which diamol/* image, the build
context sent for it, and the content hash that says whether the image is current.

A stand-in carries its recipe hash as a label, so building again when nothing changed costs
one `docker image inspect` per image. The hash covers every build input of the recipe, the
root filesystem's own hash (its folder, the suite and the Debian mirror) and the probe.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

from grader.errors import BaseImageError
from grader.infra.apt import debian_mirror

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
ROOTFS_DIR = RECIPES_DIR / "rootfs"
SUITE = "bookworm"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# Documentation in a recipe folder is neither build context nor part of the recipe hash.
NOT_BUILD_INPUT = {"README.md"}

# What a stand-in (and the root filesystem image) says about itself.
STAND_IN_LABEL = "dockerlab.stand-in"
RECIPE_LABEL = "dockerlab.recipe"
HASH_LABEL = "dockerlab.recipe-hash"
TOOLS_LABEL = "dockerlab.tools"
TOOLS_SEPARATOR = "; "


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


# In build order; every stand-in starts from the root filesystem image (base only for a
# builder stage).
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


# --- build contexts -------------------------------------------------------------------

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


# --- content hashes -------------------------------------------------------------------


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
