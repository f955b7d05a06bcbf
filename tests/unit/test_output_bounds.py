"""What the grader reads of an image or a container is bounded in memory, with no engine:
the layer scan reads a `docker save` stream as it comes (the manifest first or last), skips
file contents without holding them, and stops at its bounds; an image above the scan's size
bound gets a verdict naming both sizes; logs, exec output and a run's output are read piece
by piece up to their caps, and the checks say when they were cut."""

from __future__ import annotations

import io
import json
import tarfile
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.engine import Completion, LayerScanRefused
from grader.engine import containers, images
from grader.engine.containers import OUTPUT_CAP, ExecBackend, Head, Tail
from grader.engine.images import EntryBudget, ForwardReader, LayerEntry
from grader.results import Status
from grader.runner import grade
from tests.fake_engine import FakeEngine, FakeSandbox, Recorded, exercise, write_files, write_lab

MIB = 1024 * 1024


# -- a `docker save` stream, made here ---------------------------------------------------------


def tar_member(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE,
               link: str = "") -> bytes:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    padding = b"\0" * (-len(data) % tarfile.BLOCKSIZE) if kind == tarfile.REGTYPE else b""
    return info.tobuf(tarfile.PAX_FORMAT) + (data if kind == tarfile.REGTYPE else b"") + padding


def tar_end() -> bytes:
    return b"\0" * (2 * tarfile.BLOCKSIZE)


def layer_tar(*members: bytes) -> bytes:
    return b"".join(members) + tar_end()


BASE = layer_tar(tar_member("bin/", kind=tarfile.DIRTYPE),
                 tar_member("bin/busybox", b"\x7fELF"),
                 tar_member("bin/sh", kind=tarfile.SYMTYPE, link="busybox"))
TOOLS = layer_tar(tar_member("usr/local/go/bin/go", b"go"),
                  tar_member("usr/bin/gofmt", kind=tarfile.LNKTYPE, link="usr/local/go/bin/go"))
REMOVAL = layer_tar(tar_member("usr/local/go/.wh..wh..opq"),
                    tar_member("usr/bin/.wh.gofmt"))
HISTORY = [{"created_by": "ADD rootfs"}, {"created_by": "ENV A=b", "empty_layer": True},
           {"created_by": "COPY go"}, {"created_by": "RUN rm -rf /usr/local/go"}]
EXPECTED = [
    (0, "ADD rootfs", 0, [("/bin", "dir", 0), ("/bin/busybox", "file", 4), ("/bin/sh", "symlink", 0)]),
    (1, "COPY go", 2, [("/usr/local/go/bin/go", "file", 2), ("/usr/bin/gofmt", "hardlink", 0)]),
    (2, "RUN rm -rf /usr/local/go", 3, [("/usr/local/go", "opaque", 0),
                                        ("/usr/bin/gofmt", "whiteout", 0)]),
]


def save_stream(layers: list[bytes], manifest_first: bool, oci: bool = False) -> bytes:
    """A save as Docker 20.10 writes it (`<id>/layer.tar`, `<id>.json`, manifest.json last),
    or with the manifest first; `oci`: layers and config as `blobs/sha256/<id>`, no suffix."""
    def blob(n: int) -> str:
        return f"blobs/sha256/{n:064x}" if oci else f"{n:064x}/layer.tar"

    config_name = f"blobs/sha256/{99:064x}" if oci else f"{99:064x}.json"
    config = json.dumps({"history": HISTORY}).encode()
    manifest = json.dumps([{"Config": config_name, "Layers": [blob(n) for n in range(len(layers))],
                            "RepoTags": ["demo:latest"]}]).encode()
    body = [tar_member(blob(n), data) + tar_member(f"{n:064x}/json", b'{"id": "x"}')
            for n, data in enumerate(layers)]
    head = [tar_member("manifest.json", manifest)]
    rest = [tar_member(config_name, config), tar_member("repositories", b'{"demo": {}}')]
    return b"".join((head + body + rest) if manifest_first else (body + rest + head)) + tar_end()


class FakeSave:
    """`api.get_image` of a fake client: the stream in pieces, and how much was taken."""

    def __init__(self, pieces: Iterator[bytes]):
        self.pieces = pieces
        self.taken = 0
        self.closed = False

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        piece = next(self.pieces)
        self.taken += len(piece)
        return piece

    def close(self) -> None:
        self.closed = True


class FakeClient:
    def __init__(self, pieces: Iterator[bytes]):
        self.save = FakeSave(pieces)
        self.api = self

    def get_image(self, ref: str, chunk_size: int) -> FakeSave:
        return self.save


def in_pieces(data: bytes, size: int = 1000) -> Iterator[bytes]:
    return (data[at:at + size] for at in range(0, len(data), size))


def flat(layers) -> list:
    return [(layer.index, layer.created_by, layer.history_index,
             [(entry.path, entry.kind, entry.size) for entry in layer.entries])
            for layer in layers]


# -- the layer scan --------------------------------------------------------------------------


@pytest.mark.parametrize("manifest_first", [False, True], ids=["manifest last", "manifest first"])
def test_layers_are_read_from_the_stream_whichever_comes_first(manifest_first):
    client = FakeClient(in_pieces(save_stream([BASE, TOOLS, REMOVAL], manifest_first)))
    assert flat(images.layers(client, "demo")) == EXPECTED
    assert client.save.closed


def test_names_at_the_root_keep_their_dots():
    # The old reading stripped every leading `.` and `/`: `/.dockerenv` became `/dockerenv`,
    # and a whiteout at the root was taken for a file.
    root = layer_tar(tar_member("./", kind=tarfile.DIRTYPE), tar_member(".dockerenv"),
                     tar_member("./.wh.go"), tar_member(".wh..wh..opq"), tar_member("./a//b"))
    client = FakeClient(in_pieces(save_stream([root], False)))
    (layer,) = images.layers(client, "demo")
    assert [(entry.path, entry.kind) for entry in layer.entries] == [
        ("/", "dir"), ("/.dockerenv", "file"), ("/go", "whiteout"), ("/", "opaque"),
        ("/a/b", "file")]


def test_an_oci_layout_is_told_apart_by_the_first_bytes_of_each_blob():
    client = FakeClient(in_pieces(save_stream([BASE, TOOLS, REMOVAL], True, oci=True), 333))
    assert flat(images.layers(client, "demo")) == EXPECTED


def test_file_contents_are_skipped_without_being_held():
    big = 256 * MIB
    zeros = bytes(MIB)

    def stream() -> Iterator[bytes]:  # one layer with a 256 MiB file, made as it is read
        header = tarfile.TarInfo("blob")
        header.size = big
        inner = header.tobuf(tarfile.PAX_FORMAT)
        outer = tarfile.TarInfo(f"{0:064x}/layer.tar")
        outer.size = len(inner) + big + len(tar_end())
        yield outer.tobuf(tarfile.PAX_FORMAT) + inner
        for _ in range(big // MIB):
            yield zeros
        yield tar_end() + b"\0" * (-outer.size % tarfile.BLOCKSIZE) + tar_end()

    tracemalloc.start()
    try:
        started = time.monotonic()
        listings, _ = images.read_save(ForwardReader(stream()), EntryBudget())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert listings[f"{0:064x}/layer.tar"] == [LayerEntry("/blob", "file", big)]
    assert peak < 8 * MIB, f"{peak / MIB:.1f} MiB held to skip a 256 MiB file"
    assert time.monotonic() - started < 10


def test_a_scan_stops_at_its_entry_bound_and_says_so():
    many = layer_tar(*(tar_member(f"f{n}", b"x") for n in range(500)))
    client = FakeClient(in_pieces(save_stream([BASE, many, many], False), 512))
    with pytest.raises(LayerScanRefused) as refused:
        images.layers(client, "demo", EntryBudget(max_entries=300))
    assert refused.value.reason == ("the image's layers hold more than 300 files and folders, "
                                    "the most the grader lists")
    assert client.save.closed and client.save.taken < len(many) * 2, "it read on"


def test_a_scan_stops_at_its_name_bound_and_says_so():
    long_names = layer_tar(*(tar_member("d/" * 1000 + f"f{n}", b"x") for n in range(20)))
    client = FakeClient(in_pieces(save_stream([long_names], False)))
    with pytest.raises(LayerScanRefused) as refused:
        images.layers(client, "demo", EntryBudget(max_name_chars=10_000))
    assert "longer than 10,000 characters in all" in refused.value.reason


def test_a_configuration_beyond_its_bound_is_refused_not_a_crash(monkeypatch):
    monkeypatch.setattr(images, "DOCUMENT_MAX_BYTES", 100)
    client = FakeClient(in_pieces(save_stream([BASE], False)))
    with pytest.raises(LayerScanRefused) as refused:
        images.layers(client, "demo")
    assert "configuration is larger than" in refused.value.reason


def test_the_reader_goes_forwards_only():
    reader = ForwardReader(iter([b"abc", b"defg", b"h"]))
    assert reader.peek(5) == b"abcde" and reader.read(2) == b"ab"
    assert reader.seek(6) == 6 and reader.read(10) == b"gh" and reader.read(1) == b""
    with pytest.raises(OSError):
        reader.seek(1)


# -- the verdict when the layers are not read -------------------------------------------------

GO_DOCKERFILE = "FROM diamol/golang AS builder\nRUN go build -o /server\nFROM diamol/base\n" \
                'COPY --from=builder /server /server\nCMD ["/server"]\n'
TOOLS_CHECK = {"kind": "forbidden-tools", "tools": ["go"], "points": 5, "required": True}


@pytest.fixture
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DOCKERLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)


def graded(tmp_path: Path, engine: FakeEngine, *checks: dict):
    write_files(tmp_path, {"app/Dockerfile": GO_DOCKERFILE, "app/main.go": "package main\n"})
    lab = write_lab(tmp_path, exercise("app", checks=list(checks)))
    return grade(lab, tmp_path, engine).exercises[0]


@pytest.mark.usefixtures("_isolated")
def test_an_image_above_the_scan_bound_is_not_read_and_the_check_says_why(tmp_path):
    engine = FakeEngine({"app": Recorded(image={"size_bytes": 5_370_000_000})})
    (tools,) = [c for c in graded(tmp_path, engine, TOOLS_CHECK).checks if c.rule_id == "ML4-TOOLS"]
    assert tools.status is Status.SKIPPED and tools.points == 0
    assert tools.what.startswith("not checked: the final image is 5.37 GB, larger than the 2 GB "
                                 "whose layers the grader reads.")
    assert "`COPY --from`" in tools.what
    assert engine.sandboxes[0].made("image_layers") == [], "the image was scanned"


@pytest.mark.usefixtures("_isolated")
def test_a_scan_stopped_at_its_bound_is_the_learners_result(tmp_path, monkeypatch):
    def refusing(sandbox, ref):
        raise LayerScanRefused("the image's layers hold more than 250,000 files and folders, "
                               "the most the grader lists")

    monkeypatch.setattr(FakeSandbox, "image_layers", refusing)
    (tools,) = [c for c in graded(tmp_path, FakeEngine(), TOOLS_CHECK).checks
                if c.rule_id == "ML4-TOOLS"]
    assert tools.status is Status.SKIPPED
    assert tools.what.startswith("not checked: the image's layers hold more than 250,000 files")


# -- container output ------------------------------------------------------------------------


def test_a_head_keeps_the_first_bytes_and_knows_it_was_cut():
    head = Head(10)
    assert head.add(b"12345") and not head.add(b"6789abcdef")
    assert head.data() == b"123456789a" and head.cut


def test_a_tail_keeps_the_last_bytes():
    tail = Tail(10)
    for piece in (b"aaaa", b"bbbb", b"cccc", b"dd\xc3\xa9"):
        tail.add(piece)
    assert tail.text() == "bbccccdd\u00e9"


class FakeStream:
    """A CancellableStream: pieces until closed; `endless` repeats its one piece."""

    def __init__(self, pieces: list, endless: bool = False, block: bool = False):
        self.pieces, self.endless, self.block = pieces, endless, block
        self.read = 0
        self.closed = threading.Event()

    def __iter__(self):
        return self

    def __next__(self):
        if self.block:
            self.closed.wait()
        if self.closed.is_set() or not (self.pieces or self.endless):
            raise StopIteration
        self.read += 1
        return self.pieces[0] if self.endless else self.pieces.pop(0)

    def close(self) -> None:
        self.closed.set()


class FakeApi:
    def __init__(self, stream: FakeStream, exec_state: dict | None = None):
        self.stream = stream
        self.exec_state = exec_state or {"ExitCode": 0, "Running": False}
        self.logs_asked: dict = {}
        self.api = self

    def logs(self, container_id, **options):
        self.logs_asked = options
        return self.stream

    def inspect_container(self, container_id):
        return {"State": {"Running": False, "ExitCode": 1, "OOMKilled": False}}

    def exec_create(self, container_id, cmd):
        return {"Id": "exec1"}

    def exec_start(self, exec_id, stream, demux):
        assert stream and demux
        return self.stream

    def exec_inspect(self, exec_id):
        return self.exec_state


def test_a_runs_output_is_read_up_to_the_cap_then_no_further():
    client = FakeApi(FakeStream([b"x" * 16384], endless=True))
    head = containers.log_head(client, "c1")
    assert len(head.data()) == OUTPUT_CAP and head.cut
    assert client.stream.read == OUTPUT_CAP // 16384 + 1 and client.stream.closed.is_set()
    assert client.logs_asked["stream"] and not client.logs_asked["follow"]


def test_a_containers_last_lines_are_capped_in_bytes_too():
    client = FakeApi(FakeStream([b"y" * 16384] * 20 + [b"the end\n"]))
    state = containers.state_of(client, "c1", 20)
    assert len(state.logs) == containers.LOG_TAIL_CAP and state.logs.endswith("the end\n")
    assert client.logs_asked["tail"] == 20 and client.stream.closed.is_set()


def test_an_exec_is_read_to_its_end_but_keeps_only_the_cap():
    frames = [(b"o" * 32768, None)] * 64 + [(None, b"err\n"), (b"last", None)]
    client = FakeApi(FakeStream(frames), {"ExitCode": 3, "Running": False})
    done = ExecBackend(client, "c1").run("yes | head -c 2M")
    assert done.rc == 3  # its own status: the output was drained, not abandoned
    assert len(done.stdout_bytes) == OUTPUT_CAP
    assert done.stderr == f"err\n\n(the grader kept the first {OUTPUT_CAP:,} bytes of its " \
                          "standard output)"


def test_an_exec_still_running_at_its_deadline_is_left_with_timeouts_status(monkeypatch):
    monkeypatch.setattr(containers, "EXEC_TIMEOUT_S", 0.2)
    client = FakeApi(FakeStream([], block=True), {"ExitCode": None, "Running": True})
    started = time.monotonic()
    done = ExecBackend(client, "c1").run("sleep 3600")
    assert time.monotonic() - started < 2
    assert done.rc == containers.EXEC_TIMED_OUT == 124
    assert "still running after 0.2 s: the grader stopped waiting" in done.stderr


@pytest.mark.usefixtures("_isolated")
def test_ml4_output_says_when_it_judged_the_start_of_a_long_output(tmp_path):
    printed = Completion(0, "x" * OUTPUT_CAP, truncated=True)
    engine = FakeEngine({"app": Recorded(completion=printed)})
    check = {"kind": "output", "contains": ["Building..."], "points": 5}
    (output,) = [c for c in graded(tmp_path, engine, check).checks if c.rule_id == "ML4-OUTPUT"]
    assert output.status is Status.FAILED
    assert output.what.endswith(f"The grader reads the first {OUTPUT_CAP:,} bytes of the output, "
                                "and the container printed more.")


def test_layer_entries_are_small():
    # One per file of an image, up to LAYER_SCAN_MAX_ENTRIES: no per-object dictionary.
    assert not hasattr(LayerEntry("/a", "file", 1), "__dict__")


def test_the_stream_reader_reads_what_a_bytes_io_would():
    data = bytes(range(256)) * 50
    reader, plain = ForwardReader(in_pieces(data, 777)), io.BytesIO(data)
    for size in (1, 511, 512, 4000, 10_000):
        assert reader.read(size) == plain.read(size)
