"""Reaching an engine: `connect()` returns an `Engine` when the engine it names answers, and
says why not otherwise.

Which engine, as the docker CLI chooses it (the SDK's own readers, not hand-written ones):

- `connect()`: `DOCKER_HOST`, with TLS from `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH`
  (`docker.utils.kwargs_from_env`); else the docker context `DOCKER_CONTEXT` or the current
  one names (`ContextAPI.kwargs_from_context`); else the default socket.
- `connect(url)`: a URL as `DOCKER_HOST` takes it (`unix://`, `tcp://`, `ssh://`), with TLS
  from the same two variables; or the name of a docker context, with that context's own
  host and TLS files (`docker context create NAME --docker host=…,ca=…,cert=…,key=…`), so
  engines with different certificates can be used side by side.

`ssh://` goes through the `ssh` program (the SDK's `use_ssh_client`), as the docker CLI
does: `~/.ssh/config`, the agent and known_hosts apply, and the engine host needs the
`docker` CLI for `docker system dial-stdio`. The SDK imports paramiko for any ssh:// URL
(`pip install 'docker[ssh]'`); it is not a dependency of the grader.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import platform
import socket
import ssl
import warnings
from pathlib import Path
from urllib.parse import urlsplit

import docker
import requests
import urllib3
from docker.context import ContextAPI
from docker.errors import APIError, DockerException, NotFound, TLSParameterError
from docker.utils import kwargs_from_env

from grader.dockerfile import platform_args
from grader.engine.errors import translated
from grader.errors import EngineError, EngineUnavailable

DEFAULT_SOCKET = Path("/var/run/docker.sock")
PING_TIMEOUT_S = 5
API_TIMEOUT_S = 600  # builds of the SDK images stream for minutes
LOOPBACK = "127.0.0.1"
IMAGE_CHUNK = 2 << 20  # bytes per piece of a `docker save` stream


class Engine:
    """One Docker engine the grader talks to.

    `client` is the SDK's, for this package's modules (and for tests and benchmarks, which
    check the engine from outside); the rest of the grader uses `Sandbox` and `admin`.
    `address` is where it was reached (`unix:///var/run/docker.sock`, `tcp://host:2376`,
    `ssh://user@host`), for messages and for `published_on`.
    """

    def __init__(self, client: docker.DockerClient, address: str | None = None):
        self.client = client
        self.address = address or address_of(client)

    def __repr__(self) -> str:
        return f"Engine({self.address})"

    @functools.cached_property
    def version(self) -> dict:
        return self.client.version()

    @functools.cached_property
    def info(self) -> dict:
        return self.client.info()

    @functools.cached_property
    def platform_args(self) -> dict[str, str]:
        """BuildKit's automatic platform args for this engine, for the classic builder."""
        return platform_args(self.version.get("Os") or "linux", self.version.get("Arch") or "amd64")

    @functools.cached_property
    def published_on(self) -> str:
        """The address a learner container's ports are published on, and the one the grader
        calls them at: the address the grader reaches the engine at.

        A local engine (a unix socket, or TCP on a loopback address) publishes on 127.0.0.1,
        where only this machine reaches it. A remote engine publishes on the address its
        `tcp://` or `ssh://` host name resolves to here — the engine host's own address, the
        one the grader already reaches it at, so the grader's calls reach the container and
        nothing is opened on the engine host's other interfaces. Never 0.0.0.0: that would
        offer a learner's container to every network the engine host is on.
        """
        return published_address(self.address)

    def session(self, owner: str = "grader"):
        """A grading session on this engine (a Sandbox), labelled with `owner`."""
        from grader.engine.session import Sandbox

        return Sandbox(self, owner)

    @translated("removing image tags")
    def untag(self, tags: list[str]) -> None:
        """Remove these tags. An image loses only the tag while another tag or a container
        still uses it (another learner's identical image, being graded), and is deleted,
        with the build steps only it used, once nothing does."""
        for tag in tags:
            try:
                self.client.api.remove_image(tag)
            except NotFound:
                pass  # never built (the build failed), or gone already
            except APIError as exc:
                if exc.status_code != 409:  # 409: in use by a container; the tag stays
                    raise

    @translated("copying images to another engine")
    def copy_images(self, images: list[str], to: Engine) -> None:
        """`docker save` here streamed into `docker load` there: no file, and the layers the
        images share are sent once. The copies are the same images (same IDs), so every
        engine of a batch grades against the same bytes."""
        api = self.client.api
        # GET /images/get?names=…: the Engine API's save of several images in one archive.
        # The SDK wraps only the one-image form (get_image), which would send the layers the
        # diamol images share (the Debian root) once per image: 47 s instead of 39 s here.
        response = api._get(api._url("/images/get"), params={"names": images}, stream=True)
        api._raise_for_status(response)
        try:
            for message in to.client.api.load_image(response.iter_content(IMAGE_CHUNK)):
                if isinstance(message, dict) and message.get("error"):
                    raise EngineError(
                        f"{to.address} refused the images copied from {self.address}: "
                        f"{message['error']}",
                        hint="`docker system df` there: the images need about 1.6 GB.",
                    )
        finally:
            response.close()

    @property
    def is_local_socket(self) -> bool:
        return self.client.api.base_url == "http+docker://localhost"  # docker-py's unix socket


class EngineAPIClient(docker.APIClient):
    """The SDK's API client, with one fix: an engine's own TLS settings win over the
    environment's CA bundle. `requests` lets `REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE`
    (set on many CI runners and company machines) replace the CA the SDK configured from
    `DOCKER_CERT_PATH`, so every TLS engine would fail "certificate verify failed"
    (docker/docker-py#2433, open). The docker CLI ignores those variables; so do we."""

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if self.verify is not True:  # TLSConfig set it: the engine's CA path, or no check
            settings["verify"] = self.verify
        return settings


def docker_client(**params) -> docker.DockerClient:
    """`docker.DockerClient(**params)` around an `EngineAPIClient` (DockerClient's own
    __init__ only makes its `api`; the API version is agreed with the engine in there)."""
    client = docker.DockerClient.__new__(docker.DockerClient)
    client.api = EngineAPIClient(**params)
    return client


def connect(timeout: float = API_TIMEOUT_S, url: str | None = None) -> Engine:
    """The engine `url` names (module docstring), or with no `url` the one `DOCKER_HOST`,
    the docker context, or the default socket names — if it answers."""
    address, params = url or engine_address(), {}
    try:
        address, params = client_params(url)
        if getattr(params.get("tls"), "verify", True) is False:
            # DOCKER_CERT_PATH without DOCKER_TLS_VERIFY: encrypted, the engine not verified,
            # as `docker --tls` does it, and as quietly (urllib3 warns on every request).
            warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
        # A short ping first: a socket nobody serves must not hang us for the build timeout.
        client = docker_client(timeout=PING_TIMEOUT_S, version="auto",
                               use_ssh_client=address.startswith("ssh://"), **params)
        client.ping()
    except (DockerException, requests.RequestException) as exc:
        message, hint = describe_silence(exc, address, params.get("tls"))
        raise EngineUnavailable(message, hint=hint) from exc
    client.api.timeout = timeout
    return Engine(client, address)


def client_params(url: str | None) -> tuple[str, dict]:
    """The SDK's `base_url` (and `tls`) for `url`, and the address to name it by."""
    if url is None:
        params = kwargs_from_env()
        if "base_url" not in params:
            params = context_params(None)
    elif "://" in url:
        params = kwargs_from_env(environment={**os.environ, "DOCKER_HOST": url})
    else:
        params = context_params(url)
    address = params.get("base_url") or f"unix://{DEFAULT_SOCKET}"
    return address, params


def context_params(name: str | None) -> dict:
    """The host and TLS of a docker context (None: `DOCKER_CONTEXT`, else the current one);
    {} for the default context."""
    name = name or os.environ.get("DOCKER_CONTEXT") or None
    try:
        params = ContextAPI.kwargs_from_context(name=name)
    except DockerException as exc:
        raise EngineUnavailable(f"The docker context {name or '(current)'} cannot be read: "
                                f"{short(exc)}", hint="`docker context ls` lists them.") from exc
    if name not in (None, "default") and not params:
        raise EngineUnavailable(
            f"There is no docker context named '{name}' (and it is not a URL such as "
            "tcp://host:2376 or unix:///var/run/docker.sock).",
            hint="`docker context ls` lists the contexts; `docker context create NAME "
                 "--docker host=tcp://HOST:2376,ca=…,cert=…,key=…` makes one.",
        )
    if params.get("base_url", "").startswith("http+"):
        params["base_url"] = params["base_url"][len("http+"):]  # unix socket, as the CLI says
    return params


def engine_chosen() -> str | None:
    """What names an engine other than the local default, when something does: then a
    missing engine must be reported, never replaced by starting a local one."""
    if os.environ.get("DOCKER_HOST"):
        return "DOCKER_HOST"
    if os.environ.get("DOCKER_CONTEXT") not in (None, "", "default"):
        return "DOCKER_CONTEXT"
    try:
        params = ContextAPI.kwargs_from_context()
    except DockerException:
        return None
    host = params.get("base_url", "")
    if host and host.removeprefix("http+") != f"unix://{DEFAULT_SOCKET}":
        return "the current docker context"
    return None


def address_of(client: docker.DockerClient) -> str:
    base_url = client.api.base_url
    if base_url.startswith("http+docker://"):
        return f"unix://{DEFAULT_SOCKET}" if base_url.endswith("localhost") else base_url
    return "tcp://" + base_url.split("://", 1)[-1]


def published_address(address: str) -> str:
    """Engine.published_on for an engine reached at `address`."""
    scheme, _, rest = address.partition("://")
    if scheme not in ("tcp", "http", "https", "ssh"):
        return LOOPBACK  # unix://, npipe://, fd://: this machine
    parts = urlsplit(f"//{rest}")
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        port = None
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        try:
            # The first address, as the API connection tries it first.
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise EngineUnavailable(f"{host} (from {address}) does not resolve: {exc}.",
                                    hint="Name the engine by its IP address.") from exc
        ip = ipaddress.ip_address(found[0][4][0].split("%")[0])
    if ip.is_loopback or ip.is_unspecified:
        return LOOPBACK
    return str(ip)


# -- why an engine does not answer ------------------------------------------------------


def describe_silence(exc: Exception, address: str | None = None,
                     tls: docker.tls.TLSConfig | None = None) -> tuple[str, str]:
    """A message naming what went wrong, and a hint how to fix it."""
    address = address or engine_address()
    text = chain_text(exc)
    if address.startswith("unix://"):
        path = Path(address.removeprefix("unix://"))
        if not path.exists():
            if path == DEFAULT_SOCKET and not engine_chosen():
                return (f"No Docker engine is running (there is no socket at {path}).",
                        how_to_start_docker())
            return f"There is no Docker socket at {path}.", how_to_start_docker()
        if "Permission denied" in text:
            return (f"You may not use the Docker socket at {address} (permission denied).",
                    how_to_start_docker())
        return (f"The Docker socket {address} is there, but no engine answers on it "
                f"({short(exc)}).", how_to_start_docker())
    ca = getattr(tls, "ca_cert", None) or "ca.pem"
    cert_dir = str(Path(ca).parent) if tls is not None else "DOCKER_CERT_PATH"
    check = f"`docker --tlsverify -H {address} version` (with the same DOCKER_CERT_PATH)"
    if isinstance(exc, TLSParameterError) or "Path to a certificate" in text:
        return (f"The TLS files for {address} are missing: {short(exc)}",
                f"DOCKER_CERT_PATH must be a folder holding this engine's ca.pem and your "
                f"cert.pem and key.pem (now: {os.environ.get('DOCKER_CERT_PATH') or '~/.docker'}).")
    if "mismatch" in text and ("certificate verify failed" in text or "match" in text):
        return (f"The engine at {address} has a certificate for another name or address "
                f"({tls_reason(text)}).",
                "Name the engine in DOCKER_HOST as its certificate does (its subjectAltName), "
                f"or have its certificate made for this name. Check: {check}.")
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return (f"The engine at {address} answered, but its TLS certificate is not signed by "
                f"the CA in {ca} ({tls_reason(text)}).",
                f"Use the ca.pem of this engine's CA in {cert_dir} (the one that signed the "
                f"engine's --tlscert). Check: {check}.")
    if any(alert in text for alert in ("ALERT_UNKNOWN_CA", "ALERT_BAD_CERTIFICATE",
                                       "ALERT_CERTIFICATE_REQUIRED", "ALERT_HANDSHAKE_FAILURE",
                                       "certificate required")):
        return (f"The engine at {address} refused our client certificate ({tls_reason(text)}).",
                f"cert.pem and key.pem in {cert_dir} must be signed by the CA the engine's "
                f"--tlscacert names. Check: {check}.")
    if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text:
        return (f"The engine at {address} does not speak TLS on that port, but "
                "DOCKER_TLS_VERIFY or DOCKER_CERT_PATH asks for TLS.",
                "Use the engine's TLS port (2376 by convention), or unset DOCKER_TLS_VERIFY "
                "and DOCKER_CERT_PATH for a plain one.")
    if "HTTP request to an HTTPS server" in text:
        return (f"The engine at {address} wants TLS, and no TLS is set up for it.",
                "Set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH to the folder with its ca.pem, "
                "cert.pem and key.pem.")
    if "Connection refused" in text:
        return (f"Nothing answers at {address} (connection refused).",
                "Is the engine running and listening there (dockerd -H …)? "
                "Is the address and port right?")
    if "Name or service not known" in text or "nodename nor servname" in text or \
            "Temporary failure in name resolution" in text:
        return (f"The engine's host name in {address} does not resolve.",
                "Check the name, or give the engine's IP address.")
    if "timed out" in text.lower() or "timeout" in text.lower():
        return (f"The engine at {address} did not answer within {PING_TIMEOUT_S} s.",
                "Is the address right, and does a firewall let this machine reach that port?")
    if isinstance(exc, ssl.SSLError) or "[SSL" in text:
        return (f"The TLS handshake with the engine at {address} failed ({tls_reason(text)}).",
                f"Check: {check}.")
    if "Install paramiko" in text:
        return (f"{address}: ssh:// engines need the paramiko package (the docker SDK "
                "imports it for every ssh:// connection, though the grader goes through the "
                "`ssh` program).",
                "Install it into the grader's environment: `.venv/bin/pip install "
                "'docker[ssh]'` (or `pip install paramiko`).")
    if address.startswith("ssh://"):
        return (f"The engine at {address} cannot be reached over SSH ({short(exc)}).",
                "Check `ssh HOST docker version` works without a password prompt (a key in "
                "the agent, the host in known_hosts) and that HOST has the docker CLI.")
    return (f"The engine at {address} does not answer ({short(exc)}).", how_to_start_docker())


def chain_text(exc: BaseException) -> str:
    """Every message in the exception's chain (the SDK wraps the SSL error twice)."""
    parts, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        parts.append(f"{type(exc).__name__}: {exc}")
        exc = exc.__cause__ or exc.__context__
    return " | ".join(parts)


def tls_reason(text: str) -> str:
    """The SSL library's words: "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify
    failed: unable to get local issuer certificate"."""
    start = text.find("[SSL")
    if start < 0:
        return "TLS error"
    end = text.find("(_ssl.c", start)
    return text[start:end if end > 0 else start + 200].strip().rstrip("(").strip()


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or f"unix://{DEFAULT_SOCKET}"


def short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1][:200] if text else type(exc).__name__


def how_to_start_docker() -> str:
    system = platform.system()
    if system in ("Darwin", "Windows"):
        return "Start Docker Desktop and wait until it says it is running, then try again."
    chosen = engine_chosen()
    if chosen:
        return (f"Start the engine {chosen} points at, or unset {chosen} to use the local "
                "one." if chosen != "the current docker context" else
                "Start the engine the current docker context points at, or "
                "`docker context use default` to use the local one.")
    if os.geteuid() != 0:
        return (
            "Start Docker (`sudo systemctl start docker`, or run `sudo make engine` once), "
            "and make sure your user may use it (`sudo usermod -aG docker $USER`, then log in again)."
        )
    return "Install Docker (`apt-get install docker.io`) and start it (`dockerd &`)."
