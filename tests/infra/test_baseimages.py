"""The diamol/* base images: recipe hashing and disk-space guards (no engine), then the
images themselves against the real engine, built into small multi-stage fixtures."""

import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

import docker
import pytest
from docker.errors import DockerException

from grader.engine import OWNER_LABEL, SESSION_LABEL, Engine
from grader.engine.admin import StoredImage
from grader.engine.buildlog import created_images, follow_step
from grader.errors import BaseImageError
from grader.infra.apt import DEFAULT_MIRROR, debian_mirror
from grader.infra.baseimages import describe_base_images, ensure_base_images, needs_build
from grader.infra.disk import free_space_mb
from grader.infra.recipes import (
    HASH_LABEL,
    RECIPE_LABEL,
    RECIPES,
    RECIPES_BY_IMAGE,
    STAND_IN_LABEL,
    content_hash,
    context_files,
    recipe_files,
    recipe_hash,
    recipe_hashes,
    select_recipes,
    tar_context,
)
from grader.infra.rootfs import ROOTFS_WORK_MB, build_rootfs_tarball
from grader.infra.standins import build_image
from tests.conftest import every_image

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# The session label tells this run's leftovers from those of test runs sharing the engine.
TEST_LABELS = {OWNER_LABEL: "tests", SESSION_LABEL: f"baseimages-{uuid.uuid4().hex[:12]}"}
NODE = RECIPES_BY_IMAGE["diamol/node"]
GOLANG = RECIPES_BY_IMAGE["diamol/golang"]
MAVEN_RECIPE = RECIPES_BY_IMAGE["diamol/maven"].folder

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs and debootstrap need root")


# --- recipe hashing (no engine) --------------------------------------------------------


def test_hash_follows_every_build_input_but_not_the_readme(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM dockerlab/debian:bookworm\n")
    (tmp_path / "packages.txt").write_text("maven\n")
    first = content_hash(recipe_files(tmp_path), parent="rootfs-1")

    assert content_hash(recipe_files(tmp_path), parent="rootfs-1") == first
    (tmp_path / "README.md").write_text("docs only\n")
    assert content_hash(recipe_files(tmp_path), parent="rootfs-1") == first, "README.md counted"
    assert content_hash(recipe_files(tmp_path), parent="rootfs-2") != first, "parent ignored"
    (tmp_path / "packages.txt").write_text("maven\njunit4\n")
    assert content_hash(recipe_files(tmp_path), parent="rootfs-1") != first, "content ignored"
    (tmp_path / "packages.txt").rename(tmp_path / "more-packages.txt")
    (tmp_path / "more-packages.txt").write_text("maven\n")
    assert content_hash(recipe_files(tmp_path), parent="rootfs-1") != first, "path ignored"


def test_host_ca_bundle_is_build_input_of_node_only(tmp_path):
    bundle = tmp_path / "ca-certificates.crt"
    bundle.write_text("-----BEGIN CERTIFICATE-----\none\n-----END CERTIFICATE-----\n")

    node_files = context_files(NODE, host_ca_bundle=bundle)
    assert node_files["host-ca/host-bundle.crt"] == bundle.read_bytes()
    assert not any(path.startswith("host-ca") for path in context_files(GOLANG, bundle))

    before = {r.name: recipe_hash(r, "rootfs", bundle) for r in (NODE, GOLANG)}
    bundle.write_text("-----BEGIN CERTIFICATE-----\ntwo\n-----END CERTIFICATE-----\n")
    after = {r.name: recipe_hash(r, "rootfs", bundle) for r in (NODE, GOLANG)}
    assert after["node"] != before["node"]
    assert after["golang"] == before["golang"]


def test_node_context_keeps_an_empty_host_ca_folder_without_a_bundle(tmp_path):
    files = context_files(NODE, host_ca_bundle=tmp_path / "absent.crt")
    assert files["host-ca"] is None  # the recipe's COPY host-ca/ still has a source
    assert "host-ca/host-bundle.crt" not in files


def test_hashing_every_recipe_is_cheap_and_tells_them_apart():
    started = time.monotonic()
    hashes = recipe_hashes(RECIPES)
    assert time.monotonic() - started < 0.5
    assert sorted(hashes) == sorted(r.name for r in RECIPES)
    assert len(set(hashes.values())) == len(RECIPES)


def test_only_missing_or_outdated_stand_ins_are_built():
    def image(labels):
        return StoredImage("sha256:0", labels or {}, 0, from_registry=False)

    stand_in = {STAND_IN_LABEL: "true", RECIPE_LABEL: "golang", HASH_LABEL: "abc"}
    assert needs_build(None, "abc")
    assert not needs_build(image(stand_in), "abc")
    assert needs_build(image(stand_in), "def")
    assert not needs_build(image(None), "def"), "a real diamol image must never be replaced"


def test_build_context_tar_has_fixed_metadata():
    context = tar_context({"Dockerfile": b"FROM scratch\n", "host-ca": None})
    with tarfile.open(fileobj=io.BytesIO(context)) as archive:
        members = {member.name: member for member in archive.getmembers()}
    assert members["Dockerfile"].isfile() and members["Dockerfile"].mode == 0o644
    assert members["host-ca"].isdir()
    assert {member.mtime for member in members.values()} == {0}


def test_mirror_comes_from_the_environment_first(monkeypatch):
    monkeypatch.setenv("DOCKERLAB_DEBIAN_MIRROR", "http://mirror.example/debian/")
    assert debian_mirror() == "http://mirror.example/debian"
    monkeypatch.delenv("DOCKERLAB_DEBIAN_MIRROR")
    assert debian_mirror().startswith("http")


def test_unknown_image_names_are_refused_with_the_known_ones():
    with pytest.raises(BaseImageError) as raised:
        select_recipes(["diamol/python"])
    assert "diamol/python" in raised.value.message
    assert "diamol/golang" in raised.value.hint


def test_maven_readme_table_names_only_packages_the_image_installs():
    packages = {
        line.split("#")[0].strip()
        for line in (MAVEN_RECIPE / "packages.txt").read_text().splitlines()
    }
    rows = [line for line in (MAVEN_RECIPE / "README.md").read_text().splitlines()
            if line.startswith("| maven-")]
    named = {row.strip("| ").split("|")[-1].split()[0] for row in rows}
    assert len(named) >= 9, f"README.md's plugin table lists too few packages: {named}"
    assert named <= packages, f"in README.md but not in packages.txt: {named - packages}"


# --- running out of disk space while making the root filesystem (root, no engine) -------


@pytest.fixture
def small_disk(tmp_path):
    """A factory for tmpfs mounts of a given size, unmounted after the test."""
    mounts = []

    def mount(size_mb: int) -> Path:
        point = tmp_path / f"disk-{size_mb}m"
        point.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(point)],
                       check=True)
        mounts.append(point)
        return point

    yield mount
    for point in mounts:
        subprocess.run(["umount", "-l", str(point)], check=True)


@as_root
def test_rootfs_is_not_started_without_room_for_it(small_disk):
    disk = small_disk(8)
    with pytest.raises(BaseImageError) as raised:
        build_rootfs_tarball(disk / "bookworm.tar", DEFAULT_MIRROR, lambda _line: None)
    assert f"needs about {ROOTFS_WORK_MB} MB" in raised.value.message
    assert str(disk) in raised.value.message
    assert list(disk.iterdir()) == []


@as_root
def test_rootfs_running_out_of_space_midway_leaves_nothing_behind(small_disk):
    disk = small_disk(64)
    lines = []
    with pytest.raises(BaseImageError) as raised:
        # No up-front check: debootstrap really starts and fills the 64 MB.
        build_rootfs_tarball(disk / "bookworm.tar", debian_mirror(), lines.append, needs_mb=0)
    assert "ran out of disk space" in raised.value.message
    assert f"about {ROOTFS_WORK_MB} MB" in raised.value.message
    assert "DOCKERLAB_CACHE" in raised.value.hint
    assert any("debootstrap" in line for line in lines)
    assert list(disk.iterdir()) == [], "the partial tree or tarball was left behind"


# --- the images themselves (engine) ----------------------------------------------------


@pytest.fixture(scope="module")
def base_images(engine):
    """All five present (built cold when missing), by name."""
    return {status.name: status for status in ensure_base_images(engine)}


@pytest.fixture
def nothing_left(docker_client):
    """After the test, no container or image with this run's labels remains."""
    yield
    ours = {"label": [f"{key}={value}" for key, value in TEST_LABELS.items()]}
    containers = docker_client.api.containers(all=True, filters=ours)
    images = docker_client.api.images(all=True, filters=ours)
    assert not containers, f"containers left: {[c['Names'] for c in containers]}"
    assert not images, f"images left: {[i['Id'] for i in images]}"


def run(client, image: str, command: list[str]) -> str:
    output = client.containers.run(image, command, remove=True, network_disabled=True,
                                   stdout=True, stderr=True, labels=TEST_LABELS)
    return output.decode(errors="replace").strip()


@pytest.fixture
def build_fixture(docker_client, nothing_left):
    """Build a fixture folder with no network; removes its image and every layer it made."""
    made: list[str] = []

    def build(folder: Path) -> tuple[str, str]:
        log, steps, image_id = [], [], None
        try:
            for chunk in docker_client.api.build(path=str(folder), labels=TEST_LABELS,
                                                 network_mode="none", rm=True, forcerm=True,
                                                 decode=True):
                assert "error" not in chunk, chunk["error"] + "\n" + "\n".join(log[-30:])
                image_id = (chunk.get("aux") or {}).get("ID", image_id)
                for line in chunk.get("stream", "").splitlines():
                    log.append(line)
                    follow_step(line, steps)
        finally:
            made.extend(created_images(steps))
        assert image_id, "\n".join(log[-30:])
        made.append(image_id)
        return image_id, "\n".join(log)

    yield build
    for image in reversed(made):  # the final image first, then the stages' layers
        try:
            docker_client.api.remove_image(image)
        except Exception:  # already gone with the image above it
            pass


@pytest.mark.engine
@pytest.mark.parametrize(
    "image, command, expected",
    [
        ("diamol/golang", ["go", "version"], r"go version go1\.\d+"),
        ("diamol/maven", ["mvn", "-B", "-v"], r"Apache Maven 3\.\d+"),
        ("diamol/openjdk", ["java", "-version"], r'version "\d+'),
        ("diamol/node", ["node", "-v"], r"^v\d+\.\d+"),
        ("diamol/base", ["sh", "-c", "echo ok"], r"^ok$"),
    ],
)
def test_each_image_runs_its_tool(docker_client, base_images, nothing_left, image, command,
                                  expected):
    output = run(docker_client, image, command)
    assert re.search(expected, output), f"`{' '.join(command)}` in {image} printed: {output!r}"


@pytest.mark.engine
def test_openjdk_is_a_runtime_without_build_tools(docker_client, base_images, nothing_left):
    found = run(docker_client, "diamol/openjdk",
                ["sh", "-c", "for tool in javac mvn; do command -v $tool; done; echo checked"])
    assert found == "checked", f"build tools in the runtime image: {found!r}"


@pytest.mark.engine
def test_base_has_users_and_a_writable_tmp(docker_client, base_images, nothing_left):
    output = run(docker_client, "diamol/base",
                 ["sh", "-c", "touch /tmp/probe && grep -c -e '^root:' -e '^nobody:' /etc/passwd"])
    assert output == "2"


@pytest.mark.engine
def test_stand_in_sizes(base_images):
    base, golang = base_images["diamol/base"], base_images["diamol/golang"]
    if base.source == "stand-in":
        assert base.size_mb < 5, f"diamol/base stand-in is {base.size_mb} MB, budget 5 MB"
    assert golang.size_mb > 300, f"diamol/golang is only {golang.size_mb} MB: not the SDK?"


@pytest.mark.engine
def test_stand_ins_carry_their_recipe(engine, docker_client, base_images):
    hashes = recipe_hashes(RECIPES)
    for status in describe_base_images(engine):
        assert status.present and status.tools, status
        if status.source != "stand-in":
            continue
        labels = docker_client.api.inspect_image(status.name)["Config"]["Labels"]
        assert labels[STAND_IN_LABEL] == "true"
        assert labels[RECIPE_LABEL] == status.recipe
        assert labels[HASH_LABEL] == hashes[status.recipe]
        assert not status.stale


@pytest.mark.engine
def test_tiny_maven_project_builds_offline_and_runs_on_the_jre(
    docker_client, base_images, build_fixture
):
    image, log = build_fixture(FIXTURES / "tiny-maven")
    assert "mvn -B dependency:go-offline" in log
    assert "Tests run: 1, Failures: 0, Errors: 0" in log, "the JUnit test did not run"
    assert "BUILD SUCCESS" in log
    assert run(docker_client, image, []) == "hello, docker"
    assert run(docker_client, image, ["sh", "-c", "command -v mvn || echo none"]) == "none"


@pytest.mark.engine
def test_tiny_go_binary_built_in_golang_runs_on_base(docker_client, base_images, build_fixture):
    image, _log = build_fixture(FIXTURES / "tiny-go")
    assert run(docker_client, image, []).startswith("tiny-go built with go1.")


@pytest.mark.engine
def test_ensuring_again_builds_nothing_and_is_fast(engine, docker_client, base_images):
    before = {name: docker_client.api.inspect_image(name)["Id"] for name in base_images}
    started = time.monotonic()
    statuses = ensure_base_images(engine)
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"a no-op ensure took {elapsed:.1f} s"
    assert [s.build_seconds for s in statuses] == [None] * len(statuses)
    assert {name: docker_client.api.inspect_image(name)["Id"] for name in base_images} == before


# --- running out of disk space while building an image (root, a private engine) --------


@pytest.fixture
def engine_on_small_disk(small_disk, docker_client, base_images):
    """A second dockerd of this test's own whose data root is a 160 MB tmpfs, holding only
    diamol/base (copied from the main engine); stopped and unmounted afterwards. The main
    engine must not notice it: see the test below."""
    data_root = small_disk(160)
    # Short paths: a unix socket's path is limited to 107 bytes, containerd's is below it.
    runtime = Path(tempfile.mkdtemp(prefix="dl-engine-", dir="/tmp"))
    socket_url = f"unix://{runtime / 'docker.sock'}"
    namespace = f"dockerlab-test-{uuid.uuid4().hex[:8]}"
    log = runtime / "dockerd.log"
    with log.open("wb") as sink:
        # In a network namespace of its own: its bridge and any clean-up of it stay there
        # (with --bridge=none, dockerd deletes the host's docker0 and breaks the main engine).
        daemon = subprocess.Popen(
            ["unshare", "--net", "--",
             "dockerd", "--data-root", str(data_root), "--exec-root", str(runtime / "exec"),
             "--pidfile", str(runtime / "docker.pid"), "--host", socket_url,
             "--iptables=false", "--ip-masq=false", "--containerd-namespace", namespace,
             "--containerd-plugins-namespace", f"{namespace}-plugins"],
            stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
        )
    client = None
    try:
        deadline = time.monotonic() + 60
        while client is None:
            try:
                client = docker.DockerClient(base_url=socket_url, timeout=60)  # asks the API
            except DockerException:
                assert daemon.poll() is None, f"dockerd exited: {log.read_text()[-2000:]}"
                assert time.monotonic() < deadline, f"dockerd silent: {log.read_text()[-2000:]}"
                time.sleep(0.3)
        client.images.load(b"".join(docker_client.api.get_image("diamol/base")))
        yield client, data_root
    finally:
        if client is not None:
            client.close()
        daemon.terminate()
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        shutil.rmtree(runtime, ignore_errors=True)


@as_root
@pytest.mark.engine
def test_build_that_fills_the_data_root_is_removed_and_explained(engine_on_small_disk,
                                                                docker_client, nothing_left):
    client, data_root = engine_on_small_disk
    images_before = every_image(client)
    free_before = free_space_mb(data_root)
    context = tar_context({"Dockerfile": (
        b"FROM diamol/base\n"
        b"RUN echo a layer of its own > /first\n"
        b"RUN dd if=/dev/zero of=/filler bs=1M count=400\n"
    )})
    with pytest.raises(BaseImageError) as raised:
        build_image(Engine(client), "diamol/filler", context, 400, lambda _line: None)
    message = raised.value.message
    assert "ran out of disk space" in message and f"Docker's data root {data_root}" in message
    assert "about 400 MB" in message and "partial layers were removed" in message
    assert "prune" in raised.value.hint
    # The first RUN's layer and the failed step's container are gone, and their space with them.
    assert every_image(client) == images_before
    assert client.api.containers(all=True) == []
    assert free_space_mb(data_root) >= free_before - 5
    # The main engine did not notice: a container there still gets its default bridge.
    assert docker_client.containers.run("diamol/base", ["echo", "ok"], remove=True,
                                        labels=TEST_LABELS) == b"ok\n"

