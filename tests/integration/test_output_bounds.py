"""On the real engine: the layer scan reads `docker save` as it streams and finds exactly what
a reading of the whole saved archive finds; a scan stopped at its bound leaves no connection
open; exec output and a container's last lines are capped, an exec's own exit status kept,
and an exec that never ends is left at its deadline."""

from __future__ import annotations

import json
import os
import posixpath
import tarfile
import tempfile
import time
from pathlib import PurePosixPath

import pytest

from grader.engine import BuildRequest, LayerScanRefused, containers, images
from grader.engine.containers import OUTPUT_CAP, ExecBackend
from grader.engine.images import EntryBudget

pytestmark = pytest.mark.engine

# Every kind of entry a layer holds: files, folders, symbolic and hard links, a whiteout
# (a deleted file) and an opaque folder (a folder deleted and made again).
ENTRY_KINDS = """\
FROM diamol/base
RUN mkdir -p /opt/tool/bin && echo x > /opt/tool/bin/go && ln -s /opt/tool/bin/go /usr/bin/go \
 && ln /bin/busybox /bin/busybox2
RUN rm -rf /opt/tool && mkdir -p /opt/tool/lib && rm /bin/ls && echo y > /opt/tool/lib/a
"""


def spooled_layers(client, ref: str) -> list:
    """The layers as the grader once read them: the whole save in a file, then each layer the
    manifest names, opened where it lies."""
    with tempfile.TemporaryFile() as saved:
        for chunk in client.api.get_image(ref):
            saved.write(chunk)
        saved.seek(0)
        with tarfile.open(fileobj=saved) as archive:
            manifest = json.load(archive.extractfile("manifest.json"))[0]
            config = json.load(archive.extractfile(manifest["Config"]))
            rows = [(row, entry.get("created_by", ""))
                    for row, entry in enumerate(config["history"]) if not entry.get("empty_layer")]
            found = []
            for index, name in enumerate(manifest["Layers"]):
                with tarfile.open(fileobj=archive.extractfile(name)) as layer:
                    names = [(kind_of(member), member.size) for member in layer]
                found.append((index, rows[index][1], rows[index][0], names))
    return found


def kind_of(member: tarfile.TarInfo) -> tuple[str, str]:
    path = posixpath.normpath("/" + member.name)
    base = PurePosixPath(path).name
    if base == ".wh..wh..opq":
        return str(PurePosixPath(path).parent), "opaque"
    if base.startswith(".wh."):
        return str(PurePosixPath(path).parent / base[4:]), "whiteout"
    kind = ("symlink" if member.issym() else "hardlink" if member.islnk() else
            "dir" if member.isdir() else "file" if member.isfile() else "other")
    return path, kind


def streamed_layers(client, ref: str) -> list:
    return [(layer.index, layer.created_by, layer.history_index,
             [((entry.path, entry.kind), entry.size) for entry in layer.entries])
            for layer in images.layers(client, ref)]


def test_the_streamed_scan_finds_what_the_whole_save_holds(engine, docker_client,
                                                            leaves_nothing_behind, tmp_path):
    with engine.session(owner="tests") as sandbox:
        built = sandbox.build(BuildRequest(tmp_path, ENTRY_KINDS, None), throwaway=True)
        assert built.ok, built.log
        for ref in ("diamol/base", built.image_id):
            assert streamed_layers(docker_client, ref) == spooled_layers(docker_client, ref)
        kinds = {entry.kind for layer in images.layers(docker_client, built.image_id)
                 for entry in layer.entries}
        assert {"file", "dir", "symlink", "hardlink", "whiteout", "opaque"} <= kinds


def test_a_scan_stopped_at_its_bound_leaves_no_connection_open(docker_client):
    def open_files() -> int:
        return len(os.listdir(f"/proc/{os.getpid()}/fd"))

    before = open_files()
    for _ in range(3):
        with pytest.raises(LayerScanRefused, match="more than 10 files and folders"):
            images.layers(docker_client, "diamol/base", EntryBudget(max_entries=10))
    assert open_files() <= before
    assert len(images.layers(docker_client, "diamol/base")) == 2  # the engine answers on


@pytest.fixture
def idle_container(docker_client, leaves_nothing_behind):
    container = docker_client.api.create_container(
        "diamol/base", ["sleep", "300"], labels={"dockerlab.owner": "tests"},
        host_config=docker_client.api.create_host_config(network_mode="none"))
    docker_client.api.start(container["Id"])
    yield container["Id"]
    docker_client.api.remove_container(container["Id"], force=True)


def test_exec_output_is_capped_and_its_exit_status_kept(docker_client, idle_container):
    done = ExecBackend(docker_client, idle_container).run(
        "head -c 50000000 /dev/zero; echo oops >&2; exit 3")
    assert done.rc == 3
    assert len(done.stdout_bytes) == OUTPUT_CAP
    assert done.stderr.startswith("oops\n") and "kept the first 1,048,576 bytes" in done.stderr


def test_an_exec_that_never_ends_is_left_at_its_deadline(docker_client, idle_container,
                                                       monkeypatch):
    monkeypatch.setattr(containers, "EXEC_TIMEOUT_S", 1)
    started = time.monotonic()
    done = ExecBackend(docker_client, idle_container).run("echo started; sleep 120")
    assert time.monotonic() - started < 5
    assert done.rc == 124 and done.stdout == "started\n"
    assert "still running after 1 s" in done.stderr


def test_a_containers_last_lines_are_capped_in_bytes(docker_client, leaves_nothing_behind):
    # One 5 MB line: the engine keeps it as 16 KiB pieces; the last 20 are still 320 KiB.
    container = docker_client.api.create_container(
        "diamol/base", ["sh", "-c", "head -c 5000000 /dev/zero | tr '\\0' x; echo; echo bye"],
        labels={"dockerlab.owner": "tests"},
        host_config=docker_client.api.create_host_config(network_mode="none"))
    try:
        docker_client.api.start(container["Id"])
        docker_client.api.wait(container["Id"], timeout=60)
        state = containers.state_of(docker_client, container["Id"], 20)
    finally:
        docker_client.api.remove_container(container["Id"], force=True)
    assert len(state.logs) == containers.LOG_TAIL_CAP and state.logs.endswith("x\nbye\n")
    assert state.exit_code == 0
