"""A Docker engine that answers: use the one there is, or install and start Debian's.

`ensure_engine()` is what `make engine`, `make grade` and `make test` run first. It is
idempotent: when the engine already answers it costs one ping. It starts (or installs) a
local dockerd only when nothing names another engine: with `DOCKER_HOST`, `DOCKER_CONTEXT`
or a current docker context other than the default set, a silent engine is reported, never
replaced by a local one (which would grade somewhere else than asked).

`connect_engines()` and `ensure_base_images_on()` prepare the engines of a batch
(`dockerlab batch --engine URL ...`): each must answer (none is started), and each gets the
base images, copied from an engine that has them when one does.
"""

import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

from grader.engine import Engine, admin, connect
from grader.engine.connection import engine_address, engine_chosen, how_to_start_docker
from grader.errors import EngineUnavailable
from grader.infra import Progress
from grader.infra.apt import apt_install
from grader.paths import cache_dir

PID_FILE = Path("/var/run/docker.pid")
START_TIMEOUT_S = 90


def ensure_engine(on_progress: Progress = lambda _line: None) -> Engine:
    """Return a running engine, starting (and if need be installing) one."""
    try:
        return connect()
    except EngineUnavailable as unavailable:
        first_error = unavailable
    if engine_chosen():
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
    apt_install(["docker.io"], EngineUnavailable)


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
) -> Engine:
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


# -- the engines of a batch ---------------------------------------------------------------


def connect_engines(urls: list[str], on_progress: Progress = lambda _line: None) -> list[Engine]:
    """An engine for each URL or docker context name (grader.engine.connection), in order,
    the same one named twice once. Each must answer: none is started here, not even the
    local one (`dockerlab engine` does that)."""
    engines = []
    for url in dict.fromkeys(urls):
        engine = connect(url=url)
        on_progress(f"{engine.address}: Docker {engine.version.get('Version')}, "
                    f"{engine.info.get('NCPU')} cores")
        engines.append(engine)
    return engines


def ensure_base_images_on(engines: list[Engine], on_progress: Progress = lambda _line: None,
                          names: list[str] | None = None) -> None:
    """The base images on every engine. An engine that lacks some (or has stale stand-ins)
    gets them copied from one that has them all current — `docker save` streamed into
    `docker load`, the same image IDs, so every engine grades against the same bytes (a
    stand-in built on each could differ in size or tool versions, and so in grades). Only
    when no engine has them are they pulled or built, on the first engine, as for one."""
    from grader.infra.baseimages import ensure_base_images, needs_build
    from grader.infra.recipes import recipe_hashes, select_recipes

    recipes = select_recipes(names)
    hashes = recipe_hashes(recipes)

    def lacking(engine: Engine) -> list[str]:
        return [recipe.image for recipe in recipes
                if needs_build(admin.stored_image(engine, recipe.image), hashes[recipe.name])]

    donors = [engine for engine in engines if not lacking(engine)]
    if not donors and len(engines) > 1:
        ensure_base_images(engines[0], names, on_progress)
        donors = [engines[0]]
    for engine in engines:
        missing = lacking(engine)
        if missing and donors:
            started = time.monotonic()
            on_progress(f"{engine.address}: copying {', '.join(missing)} from "
                        f"{donors[0].address}")
            donors[0].copy_images(missing, engine)
            on_progress(f"{engine.address}: copied in {time.monotonic() - started:.0f} s")
        ensure_base_images(engine, names, on_progress)  # one inspect each when all are there
