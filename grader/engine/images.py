"""What an image is: its configuration and size (inspect), its history (one row per instruction,
with the size it added), and its layers with the files each adds or deletes (read from
`docker save`, so images with no shell are read too)."""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import PurePosixPath

import docker

SMALL_MEMBER = 1_000_000


@dataclass(frozen=True)
class ImageFacts:
    ref: str
    id: str
    size_bytes: int
    exposed_ports: tuple[str, ...]
    env: dict[str, str]
    cmd: tuple[str, ...] | None
    entrypoint: tuple[str, ...] | None
    workdir: str
    user: str

    @property
    def size_mb(self) -> float:
        return self.size_bytes / 1_000_000  # the docker CLI's MB


@dataclass(frozen=True)
class LayerEntry:
    path: str  # absolute, e.g. /usr/local/go/bin/go
    kind: str  # file | dir | symlink | hardlink | whiteout | opaque | other
    size: int


@dataclass
class ImageLayer:
    index: int  # 0 = bottom
    created_by: str
    entries: list[LayerEntry]
    history_index: int | None = None  # its row in the image's history (rows bottom first)


@dataclass(frozen=True)
class HistoryRow:
    created_by: str
    size: int  # bytes its layer adds, as `docker history` shows; 0 when it adds no layer


@dataclass(frozen=True)
class ImageHistory:
    """An image's history, one row per instruction that made it (its base image's too), and
    the content IDs of its layers (RootFS diff IDs); both bottom first."""

    id: str
    rows: tuple[HistoryRow, ...]
    layer_ids: tuple[str, ...]


def inspect(client: docker.DockerClient, ref: str) -> ImageFacts:
    attrs = client.api.inspect_image(ref)
    config = attrs.get("Config") or {}
    env = dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)
    return ImageFacts(
        ref=ref,
        id=attrs["Id"],
        size_bytes=int(attrs.get("Size") or 0),
        exposed_ports=tuple(sorted((config.get("ExposedPorts") or {}).keys())),
        env=env,
        cmd=tuple(config["Cmd"]) if config.get("Cmd") else None,
        entrypoint=tuple(config["Entrypoint"]) if config.get("Entrypoint") else None,
        workdir=config.get("WorkingDir") or "",
        user=config.get("User") or "",
    )


def layers(client: docker.DockerClient, ref: str) -> list[ImageLayer]:
    """Every layer of the image, bottom first. Read from `docker save`, so it works for
    images with no shell (FROM scratch) and sees files a later layer deletes."""
    listings: dict[str, list[LayerEntry]] = {}
    documents: dict[str, bytes] = {}
    with tempfile.TemporaryFile() as saved:
        for chunk in client.api.get_image(ref):
            saved.write(chunk)
        saved.seek(0)
        with tarfile.open(fileobj=saved, mode="r|") as archive:
            for member in archive:
                if not member.isfile():
                    continue
                handle = archive.extractfile(member)
                if member.size < SMALL_MEMBER:
                    # JSON documents; in an OCI layout even the config is a blob.
                    data = handle.read()
                    documents[member.name] = data
                    listings[member.name] = list_layer(io.BytesIO(data))
                else:
                    listings[member.name] = list_layer(handle)
    manifest = json.loads(documents["manifest.json"])[0]
    config = json.loads(documents[manifest["Config"]])
    made = [
        (row, entry.get("created_by", ""))
        for row, entry in enumerate(config.get("history", []))
        if not entry.get("empty_layer")
    ]
    layers = []
    for index, name in enumerate(manifest["Layers"]):
        row, command = made[index] if index < len(made) else (None, "")
        layers.append(ImageLayer(index, command, listings.get(name, []), row))
    return layers


def history(client: docker.DockerClient, ref: str) -> ImageHistory | None:
    """The image's history rows and layer IDs (`docker history`, `docker inspect`); None
    when the engine has no such image (e.g. a base image removed since the build)."""
    try:
        attrs = client.api.inspect_image(ref)
        rows = client.api.history(attrs["Id"])
    except docker.errors.NotFound:
        return None
    return ImageHistory(
        id=attrs["Id"],
        rows=tuple(
            HistoryRow(row.get("CreatedBy") or "", int(row.get("Size") or 0))
            for row in reversed(rows)  # the engine lists the newest first
        ),
        layer_ids=tuple((attrs.get("RootFS") or {}).get("Layers") or ()),
    )


def list_layer(handle) -> list[LayerEntry]:
    entries = []
    try:
        with tarfile.open(fileobj=handle, mode="r|") as layer:
            for member in layer:
                path = "/" + str(PurePosixPath(member.name.lstrip("./"))).lstrip("/")
                base = PurePosixPath(path).name
                if base == ".wh..wh..opq":
                    kind, path = "opaque", str(PurePosixPath(path).parent)
                elif base.startswith(".wh."):
                    kind, path = "whiteout", str(PurePosixPath(path).parent / base[4:])
                elif member.issym():
                    kind = "symlink"
                elif member.islnk():
                    kind = "hardlink"
                elif member.isdir():
                    kind = "dir"
                elif member.isfile():
                    kind = "file"
                else:
                    kind = "other"
                entries.append(LayerEntry(path, kind, member.size))
    except tarfile.ReadError:
        return []  # a JSON blob, not a layer
    return entries
