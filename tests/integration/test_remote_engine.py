"""Grading on a remote engine over TCP with TLS, and a batch spread over two engines
(issue 11, item 3), against a SECOND dockerd that this module starts on this machine.

The second engine is the remote one: it listens on a unix socket of its own and on
tcp://127.0.0.1:<free port> with `--tlsverify` and certificates made here (openssl). It must
not disturb the primary engine, which CI and others use at the same time:

  --data-root, --exec-root, --pidfile, -H unix://…  its own files, socket and containerd (a
                                                    dockerd without --containerd starts one
                                                    under its exec-root: own socket and state)
  --config-file (empty)                             /etc/docker/daemon.json is the primary's
  --iptables=false --ip-masq=false --ip-forward=false
                                                    no iptables rule and no sysctl changes;
                                                    published ports go through docker-proxy
  --bridge=dl2-<id>                                 its default bridge: an interface this
                                                    module makes (and removes), never docker0.
                                                    NOT --bridge=none: dockerd then deletes
                                                    the host's docker0 at start (moby's
                                                    removeDefaultBridgeInterface), the
                                                    primary's default bridge
  --default-address-pool base=<free /16>,size=24    networks apart from the primary's (its
                                                    bridge and every network it has, and this
                                                    machine's routes); the bridge's own /24
                                                    from another free /16

It is started once for the module and stopped, its data root removed, when the module ends,
also on failure. The base images are copied to it from the primary (save → load).
Traffic goes only to 127.0.0.1 (the engines, and containers' ports published there).
"""

from __future__ import annotations

import csv
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from grader.engine import Engine, connect
from grader.engine.connection import published_address
from grader.engine.containers import Service, port_bindings
from grader.errors import EngineError, EngineUnavailable
from grader.infra.baseimages import ensure_base_images
from grader.infra.engine import dockerd_pid
from grader.infra.recipes import RECIPES
from grader.infra.rootfs import remove_tree
from tests.conftest import labelled

from .conftest import REPO, TAG_PREFIX

pytestmark = pytest.mark.engine
LAB4 = REPO / "labs" / "lab4"
EXERCISE = "lab"
START_TIMEOUT_S = 60
# Candidate address pools for the second engine's networks: outside Docker's default pools
# (172.17–31.0.0/16, 192.168.0.0/16), and checked against what this machine uses.
POOL_CANDIDATES = ["10.213.0.0/16", "10.223.0.0/16", "10.233.0.0/16", "10.243.0.0/16"]
TIMINGS: dict[str, float] = {}


# -- the second engine ----------------------------------------------------------------------


def run(*command: str | Path, cwd: Path | None = None) -> None:
    subprocess.run([str(part) for part in command], cwd=cwd, check=True, capture_output=True)


def make_certificates(folder: Path, name: str) -> None:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, in `folder`, named
    as DOCKER_CERT_PATH wants them (ca.pem, cert.pem, key.pem) plus server-*.pem."""
    folder.mkdir(parents=True)
    run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca-key.pem",
        cwd=folder)
    run("openssl", "req", "-new", "-x509", "-key", "ca-key.pem", "-out", "ca.pem", "-days", "2",
        "-subj", f"/CN={name} CA", cwd=folder)
    for who, usage, subject in (("server-", "serverAuth", "127.0.0.1"), ("", "clientAuth", "grader")):
        key, request, extensions = f"{who}key.pem", f"{who}request.csr", f"{who}ext.cnf"
        run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key, cwd=folder)
        run("openssl", "req", "-new", "-key", key, "-out", request, "-subj", f"/CN={subject}",
            cwd=folder)
        alt = "subjectAltName=IP:127.0.0.1\n" if who else ""
        (folder / extensions).write_text(f"{alt}extendedKeyUsage={usage}\n")
        run("openssl", "x509", "-req", "-in", request, "-CA", "ca.pem", "-CAkey", "ca-key.pem",
            "-CAcreateserial", "-out", f"{who}cert.pem", "-days", "2", "-extfile", extensions,
            cwd=folder)


def used_networks(docker_client) -> list[ipaddress.IPv4Network]:
    """The primary engine's networks and this machine's IPv4 routes."""
    found = []
    for network in docker_client.api.networks():
        for config in (network.get("IPAM") or {}).get("Config") or []:
            if "Subnet" in config and ":" not in config["Subnet"]:
                found.append(ipaddress.ip_network(config["Subnet"], strict=False))
    with open("/proc/net/route") as routes:
        for line in list(routes)[1:]:
            fields = line.split()
            destination = ipaddress.IPv4Address(int(fields[1], 16).to_bytes(4, "little"))
            mask = ipaddress.IPv4Address(int(fields[7], 16).to_bytes(4, "little"))
            if int(mask):  # the default route (0.0.0.0/0) overlaps everything; it is no network
                found.append(ipaddress.ip_network(f"{destination}/{mask}", strict=False))
    return found


def free_pools(docker_client, count: int) -> list[str]:
    used = used_networks(docker_client)
    free = [candidate for candidate in POOL_CANDIDATES
            if not any(ipaddress.ip_network(candidate).overlaps(network) for network in used)]
    if len(free) < count:
        pytest.fail(f"not {count} free address pools among {POOL_CANDIDATES}: in use {used}")
    return free[:count]


def host_interfaces() -> dict[str, int]:
    """This machine's network interfaces and their index (a deleted and re-made interface
    gets a new one), but for those of containers and of networks, which other gradings on
    the primary make and remove at any time."""
    found = {}
    for folder in Path("/sys/class/net").iterdir():
        if not folder.name.startswith(("br-", "veth", "dl2-")):
            found[folder.name] = int((folder / "ifindex").read_text())
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class SecondEngine:
    root: Path  # short (/tmp/dl2-…): unix socket paths under the exec root stay < 108 bytes
    port: int = field(default_factory=free_port)
    pool: str = ""  # its networks' address pool
    bridge_network: str = ""  # its default bridge's subnet
    bridge: str = field(default_factory=lambda: f"dl2-{uuid.uuid4().hex[:6]}")  # < 16 bytes
    process: subprocess.Popen | None = None
    engine: Engine | None = None

    @property
    def certs(self) -> Path:
        return self.root / "certs"

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def socket_url(self) -> str:
        return f"unix://{self.root}/docker.sock"

    @property
    def log(self) -> Path:
        return self.root / "dockerd.log"

    def tls_env(self, certs: Path | None = None) -> dict[str, str]:
        """The environment a grader is given for this engine, as the docker CLI reads it;
        and a REQUESTS_CA_BUNDLE that cannot verify it, as CI runners set one (to their
        system bundle): the engine's own CA must win (docker/docker-py#2433)."""
        return {"DOCKER_HOST": self.url, "DOCKER_TLS_VERIFY": "1",
                "DOCKER_CERT_PATH": str(certs or self.certs),
                "REQUESTS_CA_BUNDLE": str(self.root / "wrong-ca" / "ca.pem")}

    def command(self) -> list[str]:
        certs = self.certs
        return [
            shutil.which("dockerd") or "dockerd",
            "--data-root", f"{self.root}/data", "--exec-root", f"{self.root}/exec",
            "--pidfile", f"{self.root}/docker.pid", "--config-file", f"{self.root}/daemon.json",
            "-H", self.socket_url, "-H", f"tcp://127.0.0.1:{self.port}",
            "--tlsverify", "--tlscacert", f"{certs}/ca.pem",
            "--tlscert", f"{certs}/server-cert.pem", "--tlskey", f"{certs}/server-key.pem",
            "--iptables=false", "--ip-masq=false", "--ip-forward=false", "--bridge", self.bridge,
            "--userland-proxy=true", "--default-address-pool", f"base={self.pool},size=24",
        ]

    def start(self) -> None:
        (self.root / "daemon.json").write_text("{}\n")
        gateway = next(ipaddress.ip_network(self.bridge_network).hosts())
        run("ip", "link", "add", self.bridge, "type", "bridge")
        run("ip", "address", "add", f"{gateway}/{ipaddress.ip_network(self.bridge_network).prefixlen}",
            "dev", self.bridge)
        run("ip", "link", "set", self.bridge, "up")
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                            stdout=sink, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the second dockerd exited ({self.process.returncode}):\n"
                            + self.log.read_text(errors="replace")[-3000:])
            try:
                self.engine = connect(url=self.socket_url)
                return
            except EngineUnavailable:
                time.sleep(0.1)
        pytest.fail("the second dockerd did not answer in time:\n"
                    + self.log.read_text(errors="replace")[-3000:])

    def stop(self) -> None:
        """Stop dockerd (it stops its containerd), then remove everything it had."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # its own group: dockerd, containerd
                self.process.wait(timeout=10)
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True)
        remove_tree(self.root)  # unmounts what is still mounted below it first


@pytest.fixture(scope="module")
def second(engine, docker_client):
    """The second engine, with the base images copied from the primary."""
    if docker_client.plugins.list():
        pytest.skip("the primary has managed plugins: a second dockerd shares their folder "
                    "/run/docker/plugins and unmounts it when it stops")
    primary_pid, interfaces = dockerd_pid(), host_interfaces()
    root = Path(tempfile.mkdtemp(prefix="dl2-", dir="/tmp"))
    pool, bridge_pool = free_pools(docker_client, 2)
    second = SecondEngine(root, pool=pool,
                          bridge_network=str(next(ipaddress.ip_network(bridge_pool).subnets(8))))
    try:
        make_certificates(second.certs, "second engine")
        make_certificates(root / "wrong-ca", "another")  # a CA the engine never heard of
        began = time.monotonic()
        second.start()
        TIMINGS["second dockerd start"] = time.monotonic() - began
        # The primary's docker0 (and every other interface of this machine) is untouched.
        assert host_interfaces() == interfaces
        ensure_base_images(engine)  # present already: one inspect each
        began = time.monotonic()
        engine.copy_images([recipe.image for recipe in RECIPES], second.engine)
        TIMINGS["base images copied (all five, save → load)"] = time.monotonic() - began
        yield second
    finally:
        second.stop()
        print("\nsecond engine timings: " + ", ".join(f"{what} {seconds:.1f} s"
                                                     for what, seconds in TIMINGS.items()))
    # Nothing of it is left, and the primary engine is the same process, still answering.
    assert second.process is None or second.process.poll() is not None
    assert not root.exists()
    assert dockerd_pid() == primary_pid and docker_client.ping()
    assert host_interfaces() == interfaces
    assert not Path("/sys/class/net", second.bridge).exists()
    for ours in (second.pool, second.bridge_network):
        assert not [network for network in used_networks(docker_client)
                    if network.overlaps(ipaddress.ip_network(ours))]


@pytest.fixture
def second_leaves_nothing(second):
    client = second.engine.client
    before = {owner: set(labelled(client, owner)) for owner in ("grader", "tests")}
    yield
    for owner, existing in before.items():
        assert not set(labelled(client, owner)) - existing, f"left on the second engine ({owner})"


class OurSessions:
    """The grading sessions a test's own `dockerlab` runs opened on the shared primary engine,
    told from other people's gradings running there at the same time (which a before/after
    count of labelled things, `leaves_nothing_behind`, would blame on this test): a session
    is ours when it started a container from an image tagged with our tag prefix."""

    def __init__(self, client, prefix: str):
        self.client, self.prefix = client, prefix
        self.ours: set[str] = set()  # image IDs tagged with our prefix
        self.created: list[tuple[str, str]] = []  # (image, session) of labelled containers
        self.stream = client.events(decode=True, since=int(time.time()) - 1,
                                    filters={"type": ["image", "container"],
                                             "event": ["tag", "create"]})
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self) -> None:
        try:
            for event in self.stream:
                attributes = (event.get("Actor") or {}).get("Attributes") or {}
                if event.get("Type") == "image" and attributes.get("name", "").startswith(self.prefix):
                    self.ours.add(event["Actor"]["ID"])
                elif event.get("Type") == "container" and "dockerlab.session" in attributes:
                    self.created.append((attributes.get("image", ""), attributes["dockerlab.session"]))
        except Exception:  # noqa: BLE001 - the stream closed under us: done
            pass

    def sessions(self) -> set[str]:
        return {session for image, session in self.created if image in self.ours}

    def left_behind(self) -> list[str]:
        self.stream.close()
        self.thread.join(10)
        sessions = self.sessions()
        left = []
        for session in sessions:
            owned = {"label": [f"dockerlab.session={session}"]}
            left += [c["Names"][0] for c in self.client.api.containers(all=True, filters=owned)]
            left += [n["Name"] for n in self.client.api.networks(filters=owned)]
            left += [i["Id"] for i in self.client.api.images(filters=owned)]
        return left


@pytest.fixture
def primary_leaves_nothing(docker_client):
    """Nothing our gradings labelled is left on the primary engine (see OurSessions)."""
    watcher = OurSessions(docker_client, TAG_PREFIX)
    yield watcher
    assert not watcher.left_behind(), "left behind on the primary engine"


def dockerlab(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The grader's command line, with `env` added to (and DOCKER_* taken from) ours."""
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("DOCKER_")}
    return subprocess.run([sys.executable, "-m", "grader", *arguments], cwd=REPO,
                          env={**environment, **(env or {})}, capture_output=True, text=True,
                          timeout=600)


def checks_of(report: Path) -> list[tuple]:
    result = json.loads(report.read_text())
    return [(exercise["id"], check["rule_id"], check["title"], check["status"], check["points"])
            for exercise in result["exercises"] for check in exercise["checks"]]


# -- (a) one grading over DOCKER_HOST + TLS ---------------------------------------------------


def test_grading_over_tls_equals_the_local_one(second, tmp_path, primary_leaves_nothing,
                                               second_leaves_nothing):
    arguments = ("grade", "lab4", EXERCISE, "--solution", "--quiet", "--tag-prefix", TAG_PREFIX)
    began = time.monotonic()
    remote = dockerlab(*arguments, "--report", f"json:{tmp_path / 'remote.json'}",
                       env=second.tls_env())
    TIMINGS["grading over TLS (second engine)"] = time.monotonic() - began
    assert remote.returncode == 0, remote.stdout + remote.stderr
    assert "starting dockerd" not in remote.stderr and "copying" not in remote.stderr
    began = time.monotonic()
    local = dockerlab(*arguments, "--report", f"json:{tmp_path / 'local.json'}")
    TIMINGS["grading on the primary"] = time.monotonic() - began
    assert local.returncode == 0, local.stdout + local.stderr
    time.sleep(0.5)  # the engine's last events reach the watcher
    assert primary_leaves_nothing.sessions(), "the local grading's session was not seen"
    remote_checks = checks_of(tmp_path / "remote.json")
    assert remote_checks == checks_of(tmp_path / "local.json")
    assert len(remote_checks) >= 9 and all(check[3] == "passed" for check in remote_checks)
    # It was built on the second engine, which keeps the learner's image.
    assert second.engine.client.images.list(name=f"{TAG_PREFIX}lab4-greeter")


# -- (b) a batch over both engines -------------------------------------------------------------


def make_class(folder: Path) -> list[str]:
    """Four learners: two copies of the reference solution's lab/ folder, two of the starter's."""
    for name, source in (("alice", LAB4 / "solution" / "lab"), ("bob", LAB4 / "solution" / "lab"),
                         ("carol", LAB4 / "lab"), ("dave", LAB4 / "lab")):
        shutil.copytree(source, folder / name / "lab")
    return ["alice", "bob", "carol", "dave"]


def gradebook(out: Path) -> dict[str, dict[str, str]]:
    with (out / "gradebook.csv").open(newline="", encoding="utf-8") as rows:
        return {row["student"]: {column: value for column, value in row.items()
                                 if column not in ("duration_s", "graded_at")}
                for row in csv.DictReader(rows)}


class TagEvents:
    """The image tags an engine reports while a batch runs (docker events, type image,
    action tag): each learner's image is tagged on the engine that built it."""

    def __init__(self, engine: Engine, prefix: str):
        self.prefix = prefix
        self.tags: list[str] = []
        self.stream = engine.client.events(decode=True, since=int(time.time()) - 1,
                                           filters={"type": "image", "event": "tag"})
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self) -> None:
        try:
            for event in self.stream:
                name = (event.get("Actor") or {}).get("Attributes", {}).get("name", "")
                if name.startswith(self.prefix):
                    self.tags.append(name)
        except Exception:  # noqa: BLE001 - the stream closed under us: done
            pass

    def learners(self) -> set[str]:
        """batch-<learner>-lab4-greeter:latest → learner."""
        self.stream.close()
        self.thread.join(10)
        return {tag[len(self.prefix):].split("-")[0] for tag in self.tags}


def test_a_batch_over_two_engines_equals_the_one_engine_batch(second, tmp_path,
                                                              primary_leaves_nothing,
                                                              second_leaves_nothing):
    names = make_class(tmp_path / "class")
    run_id = uuid.uuid4().hex[:6]  # this run's tags, apart from other gradings' on the primary
    common = ("batch", "lab4", str(tmp_path / "class"), EXERCISE, "--quiet")
    began = time.monotonic()
    one = dockerlab(*common, "--out", str(tmp_path / "one"), "--jobs", "2",
                    "--tag-prefix", f"{TAG_PREFIX}one-{run_id}-")
    TIMINGS["batch of 4 on the primary"] = time.monotonic() - began
    assert one.returncode == 0, one.stdout + one.stderr

    # A base image the second engine lacks: the batch copies it from the primary.
    second.engine.client.api.remove_image("diamol/base:latest", force=True)
    prefix = f"{TAG_PREFIX}two-{run_id}-"
    watched = {"primary": TagEvents(connect(url="unix:///var/run/docker.sock"), f"{prefix}batch-"),
               "second": TagEvents(second.engine, f"{prefix}batch-")}
    began = time.monotonic()
    two = dockerlab(*common, "--out", str(tmp_path / "two"), "--tag-prefix", prefix,
                    "--engine", "unix:///var/run/docker.sock", "--engine", second.url,
                    env=second.tls_env())
    TIMINGS["batch of 4 over both engines"] = time.monotonic() - began
    assert two.returncode == 0, two.stdout + two.stderr
    used = {name: events.learners() for name, events in watched.items()}
    assert f"{second.url}: copying diamol/base from unix:///var/run/docker.sock" in \
        " ".join(two.stderr.split())
    assert second.engine.client.images.get("diamol/base").id == \
        connect(url="unix:///var/run/docker.sock").client.images.get("diamol/base").id

    assert gradebook(tmp_path / "two") == gradebook(tmp_path / "one")
    book = gradebook(tmp_path / "one")
    assert sorted(book) == names
    assert [book[name]["verdict"] for name in names] == ["passed", "passed", "failed", "failed"]
    # Both engines graded: each learner's image was built (tagged) on exactly one of them.
    assert used["primary"] and used["second"], used
    assert used["primary"] | used["second"] == set(names) and not used["primary"] & used["second"]


# -- (c) a refused TLS connection ---------------------------------------------------------------


def test_a_wrong_ca_is_a_clear_error_not_a_traceback(second, tmp_path):
    wrong = second.tls_env(second.root / "wrong-ca")
    done = dockerlab("grade", "lab4", EXERCISE, "--solution", "--quiet", env=wrong)
    assert done.returncode == 2, done.stdout + done.stderr
    text = " ".join(done.stderr.split())  # rich wraps lines
    assert "Traceback" not in done.stderr
    assert f"error: The engine at {second.url} answered, but its TLS certificate is not " \
           f"signed by the CA in {second.root / 'wrong-ca' / 'ca.pem'}" in text
    assert "CERTIFICATE_VERIFY_FAILED" in text and "hint:" in text
    assert "--tlsverify" in text  # how to check the same files with the docker CLI
    # The same for a batch engine; and no local engine is started in its place.
    done = dockerlab("batch", "lab4", str(LAB4), EXERCISE, "--out", str(tmp_path / "out"),
                     "--engine", second.url, env=wrong)
    assert done.returncode == 2 and "not signed by the CA" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr and "starting dockerd" not in done.stderr


# -- a docker context names an engine with its own TLS files -----------------------------------


def test_a_docker_context_names_an_engine_with_its_own_certificates(second, tmp_path,
                                                                     monkeypatch):
    from docker.context import ContextAPI
    from docker.tls import TLSConfig

    from grader.infra.engine import ensure_engine

    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    (tmp_path / "docker-config").mkdir()
    (tmp_path / "docker-config" / "config.json").write_text("{}")
    for variable in ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(second.root / "wrong-ca" / "ca.pem"))
    certs = second.certs
    ContextAPI.create_context("second", host=second.url, tls_cfg=TLSConfig(
        client_cert=(str(certs / "cert.pem"), str(certs / "key.pem")),
        ca_cert=str(certs / "ca.pem"), verify=True))
    data_root = second.engine.info["DockerRootDir"]
    assert connect(url="second").info["DockerRootDir"] == data_root
    monkeypatch.setenv("DOCKER_CONTEXT", "second")
    assert ensure_engine().info["DockerRootDir"] == data_root
    monkeypatch.setenv("DOCKER_CONTEXT", "absent")
    with pytest.raises(EngineUnavailable, match="no docker context named 'absent'"):
        ensure_engine()  # reported, and no local engine started in its place


# -- where ports are published ----------------------------------------------------------------


def test_ports_are_published_where_the_grader_reaches_the_engine():
    assert published_address("unix:///var/run/docker.sock") == "127.0.0.1"
    assert published_address("tcp://127.0.0.1:2376") == "127.0.0.1"
    assert published_address("tcp://localhost:2376") == "127.0.0.1"
    assert published_address("tcp://[::1]:2376") == "127.0.0.1"
    assert published_address("tcp://0.0.0.0:2375") == "127.0.0.1"  # never every interface
    assert published_address("tcp://169.254.7.7:2376") == "169.254.7.7"
    assert published_address("ssh://grader@169.254.7.7:2222") == "169.254.7.7"
    assert published_address("tcp://[2001:db8::7]:2376") == "2001:db8::7"
    assert port_bindings([80, 8080], "169.254.7.7") == {"80/tcp": ("169.254.7.7",),
                                                          "8080/tcp": ("169.254.7.7",)}
    service = Service("lab", "web", "web", "c0ffee", {80: 40080}, host="2001:db8::7")
    assert service.url("/health") == "http://[2001:db8::7]:40080/health"


def test_an_address_the_engine_host_does_not_hold_is_a_grader_error(second,
                                                                   second_leaves_nothing):
    """An engine reached through NAT (DOCKER_HOST names an address that is not the engine
    host's own) cannot publish there: a grader error, never the learner's ML4-RUN failure.
    Only a bind is tried on 169.254.7.7 (link-local, held by no interface here); nothing is sent to it."""
    behind_nat = Engine(second.engine.client, address="tcp://169.254.7.7:2376")
    with behind_nat.session(owner="tests") as sandbox:
        network = sandbox.lab_network("nat")
        with pytest.raises(EngineError, match="cannot publish a container's port on 169.254.7.7"):
            sandbox.start_service("lab", "diamol/base", "web", network=network, ports=(80,))


# -- the Gradescope bundle, grading on the TLS engine -----------------------------------------


def test_the_gradescope_bundle_grades_on_the_tls_engine_as_dockerlab_grade(
        second, tmp_path, lab4, primary_leaves_nothing, second_leaves_nothing):
    """Gradescope's containers have no engine: run_autograder, run on a folder laid out as
    Gradescope lays it out, grades on the engine engine.env names, over TLS."""
    from grader.ci import write_gradescope

    from .test_gradescope_bundle import gradescope_folder, run_autograder

    root = gradescope_folder(tmp_path, lab4, second.url)
    for name in ("ca.pem", "cert.pem", "key.pem"):
        shutil.copy(second.certs / name, root / "source" / "certs" / name)
    engine_env = root / "source" / "engine.env"
    engine_env.write_text(engine_env.read_text().replace("EXERCISES=", f"EXERCISES={EXERCISE}"))
    assert write_gradescope  # the bundle is the one `dockerlab ci --gradescope` writes
    done = run_autograder(root, REQUESTS_CA_BUNDLE=second.tls_env()["REQUESTS_CA_BUNDLE"])
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert validator("gradescope-results.schema.json").is_valid(results)

    local = tmp_path / "local.json"
    graded = dockerlab("grade", "lab4", EXERCISE, "--path",
                       str(root / "submission" / "labs" / "lab4"), "--quiet", "--instructor",
                       "--tag-prefix", TAG_PREFIX, "--report", f"json:{local}")
    assert graded.returncode == 0, graded.stderr
    assert results["score"] == json.loads(local.read_text())["score"] > 0
    # Graded on the second engine: its session's containers were there, not on the primary.
    assert second.engine.client.images.list(name=f"{TAG_PREFIX}lab4-greeter")


def validator(schema: str):
    import jsonschema

    path = Path(__file__).parents[1] / "fixtures" / "schemas" / schema
    return jsonschema.Draft202012Validator(json.loads(path.read_text()))
