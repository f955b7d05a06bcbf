"""A Docker engine that answers: use the one there is, or install and start Debian's.

`ensure_engine()` is what `make engine`, `make grade` and `make test` run first. It is
idempotent: when the engine already answers it costs one ping.
"""

import os
import platform
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import docker
from docker.errors import DockerException

from grader.errors import EngineUnavailable
from grader.paths import cache_dir

DEFAULT_SOCKET = Path("/var/run/docker.sock")
PID_FILE = Path("/var/run/docker.pid")
START_TIMEOUT_S = 90
PING_TIMEOUT_S = 5
API_TIMEOUT_S = 600  # builds of the SDK images stream for minutes

Progress = Callable[[str], None]


def connect(timeout: float = API_TIMEOUT_S) -> docker.DockerClient:
    """A client for the engine `DOCKER_HOST` (or the default socket) names, if it answers."""
    try:
        # A short ping first: a socket nobody serves must not hang us for the build timeout.
        client = docker.from_env(timeout=PING_TIMEOUT_S)
        client.ping()
    except DockerException as exc:
        raise EngineUnavailable(describe_silence(exc), hint=how_to_start_docker()) from exc
    client.api.timeout = timeout
    return client


def describe_silence(exc: Exception) -> str:
    if not os.environ.get("DOCKER_HOST") and not DEFAULT_SOCKET.exists():
        return f"No Docker engine is running (there is no socket at {DEFAULT_SOCKET})."
    if "Permission denied" in str(exc):
        return f"You may not use the Docker socket at {engine_address()} (permission denied)."
    return (
        f"The Docker socket {engine_address()} is there, but no engine answers on it "
        f"({short(exc)})."
    )


def ensure_engine(on_progress: Progress = lambda _line: None) -> docker.DockerClient:
    """Return a client for a running engine, starting (and if need be installing) one."""
    try:
        return connect()
    except EngineUnavailable as unavailable:
        first_error = unavailable
    if os.environ.get("DOCKER_HOST"):
        # The user chose a remote or custom engine: starting a local one would grade elsewhere.
        raise first_error
    if dockerd_pid() is not None:
        on_progress("dockerd is running but not answering yet; waiting for it")
        return wait_for_engine(timeout=START_TIMEOUT_S, log=None, first_error=first_error)
    if not can_provision():
        raise first_error
    if shutil.which("dockerd") is None:
        on_progress("installing Debian's docker.io (no dockerd on this machine)")
        install_docker_io()
    remove_stale_pid_file(on_progress)
    log = cache_dir() / "dockerd.log"
    on_progress(f"starting dockerd in the background (log: {log})")
    start_dockerd(log)
    return wait_for_engine(timeout=START_TIMEOUT_S, log=log, first_error=first_error)


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or f"unix://{DEFAULT_SOCKET}"


def short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1][:200] if text else type(exc).__name__


def how_to_start_docker() -> str:
    system = platform.system()
    if system in ("Darwin", "Windows"):
        return "Start Docker Desktop and wait until it says it is running, then try again."
    if os.environ.get("DOCKER_HOST"):
        return "Start the engine DOCKER_HOST points at, or unset DOCKER_HOST to use the local one."
    if os.geteuid() != 0:
        return (
            "Start Docker (`sudo systemctl start docker`, or run `sudo make engine` once), "
            "and make sure your user may use it (`sudo usermod -aG docker $USER`, then log in again)."
        )
    return "Install Docker (`apt-get install docker.io`) and start it (`dockerd &`)."


def can_provision() -> bool:
    """Only root on a Debian-like machine may install and start an engine for the user."""
    return (
        platform.system() == "Linux"
        and os.geteuid() == 0
        and (shutil.which("dockerd") is not None or shutil.which("apt-get") is not None)
    )


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dockerd_pid() -> int | None:
    """The pid in docker.pid, when that process still lives and is a dockerd."""
    try:
        pid = int(PID_FILE.read_text().strip())
    except (OSError, ValueError):
        return None
    if not pid_alive(pid):
        return None
    try:
        command = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return pid
    return pid if command == "dockerd" else None


def remove_stale_pid_file(on_progress: Progress) -> None:
    # After an unclean stop dockerd refuses to start while its old pid file remains.
    if PID_FILE.exists() and dockerd_pid() is None:
        on_progress(f"removing stale {PID_FILE} left by an engine that is gone")
        PID_FILE.unlink(missing_ok=True)


def install_docker_io() -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", "docker.io"],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise EngineUnavailable(
                f"Installing docker.io failed: `{' '.join(command)}` exited {done.returncode}.",
                hint=(done.stderr or done.stdout).strip()[-500:],
            )


def start_dockerd(log: Path) -> None:
    with log.open("ab") as sink:
        subprocess.Popen(
            ["dockerd"],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlive `make`, like a service would
        )


def wait_for_engine(
    timeout: float, log: Path | None, first_error: EngineUnavailable
) -> docker.DockerClient:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return connect()
        except EngineUnavailable:
            time.sleep(0.5)
    tail = ""
    if log is not None and log.exists():
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-8:])
    raise EngineUnavailable(
        f"The Docker socket {engine_address()} is present but the engine did not answer "
        f"within {timeout:.0f} s ({first_error.message})",
        hint=(f"Last lines of {log}:\n{tail}" if tail else how_to_start_docker()),
    )
