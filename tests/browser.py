"""Headless Chromium for the browser tests (tests/unit/test_report_in_browser.py, the class
report from a file; tests/unit/test_site_in_browser.py, the docs site from 127.0.0.1): where
it is, the flags that keep it quiet and off the network, a proxy that records and refuses
what would have left the machine, and a small DevTools client over a pipe (no port, no
extra package) for pages that need a script to run before they are read.

`make chromium` (a dependency of `make test`) installs Chromium and the fonts its
screenshots draw text with.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)

# What Chromium calls of its own accord, quietened (some it calls regardless).
QUIET = (
    "--disable-background-networking", "--disable-component-update", "--no-first-run",
    "--disable-sync", "--disable-default-apps", "--disable-extensions", "--no-pings",
    "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,Translate,MediaRouter",
)


def off_the_network(proxy_port: int, loopback_too: bool) -> tuple[str, ...]:
    """Every request goes to the recording proxy and no name resolves, so the only address
    Chromium reaches is 127.0.0.1: through the proxy too (`loopback_too`, for a page from a
    file, which should request nothing), or directly (a site served on 127.0.0.1)."""
    return (
        f"--proxy-server=http://127.0.0.1:{proxy_port}",
        *(("--proxy-bypass-list=<-loopback>",) if loopback_too else ()),
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        *QUIET,
    )


class RecordingProxy(BaseHTTPRequestHandler):
    """Records each request line (`CONNECT host:443`, `GET http://host/path`) and answers
    502: it is a proxy that forwards nothing."""

    seen: list[str]

    def parse_request(self) -> bool:
        parsed = super().parse_request()
        self.seen.append(self.requestline)
        return parsed

    def refuse(self) -> None:
        self.send_response(502)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_POST = do_PUT = do_OPTIONS = do_CONNECT = refuse

    def log_message(self, *args) -> None:  # pytest shows the test's own output only
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """An HTTP server on 127.0.0.1, on a free port, for the block's duration: its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def recording_proxy() -> Iterator[tuple[int, list[str]]]:
    """A recording proxy on 127.0.0.1: its port, and the request lines it saw."""
    seen: list[str] = []
    with serving(type("Handler", (RecordingProxy,), {"seen": seen})) as port:
        yield port, seen


def proxied_hosts(seen: list[str]) -> set[str]:
    """`CONNECT accounts.google.com:443 HTTP/1.1` → accounts.google.com."""
    hosts = set()
    for line in seen:
        target = line.split()[1]
        hosts.add(urlsplit(target).hostname if "://" in target else target.rsplit(":", 1)[0])
    return hosts


def url_requests(net_log: Path) -> list[dict]:
    """From a Chromium net log (`--log-net-log`): the parameters of every URL request it
    started (`url`, `initiator`, `network_isolation_key`, …)."""
    log = json.loads(net_log.read_text(encoding="utf-8"))
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [event["params"] for event in log["events"]
            if event["type"] == start and "url" in (event.get("params") or {})]


class DevToolsError(RuntimeError):
    pass


class Chromium:
    """Headless Chromium driven through the DevTools protocol on a pipe
    (`--remote-debugging-pipe`: commands on its fd 3, answers on its fd 4, each a JSON
    message ended by a NUL byte). One tab: `open(url)`, `evaluate`, `wait_for`,
    `screenshot`."""

    def __init__(self, *flags: str, window: tuple[int, int] = (1280, 1600)):
        assert CHROMIUM, "Chromium is not installed: `make chromium` installs it"
        self.window = window
        to_chromium, self._commands = os.pipe()
        self._answers, from_chromium = os.pipe()
        self.process = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{to_chromium} 4>&{from_chromium}', CHROMIUM,
             "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--window-size={window[0]},{window[1]}", "--remote-debugging-pipe",
             *flags, "about:blank"],
            pass_fds=(to_chromium, from_chromium),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(to_chromium)
        os.close(from_chromium)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []
        self.session: str | None = None

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.call("Browser.close", timeout=10)
            except (DevToolsError, OSError):
                pass
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for fd in (self._commands, self._answers):
            try:
                os.close(fd)
            except OSError:
                pass

    # --- the protocol ---

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._answers], [], [], left)[0]:
                raise DevToolsError("Chromium did not answer in time")
            chunk = os.read(self._answers, 1 << 16)
            if not chunk:
                raise DevToolsError("Chromium closed its pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, *, session: bool = False,
             timeout: float = 30) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._receive(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise DevToolsError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_for_event(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for index, event in enumerate(self.events):
                if event.get("method") == method and event.get("sessionId") == self.session:
                    return self.events.pop(index)
            self.events.append(self._receive(deadline))

    # --- one tab ---

    def open(self, url: str, timeout: float = 30) -> None:
        """Opens `url` in the tab (made at the first call) and waits for its load event."""
        if self.session is None:
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.call("Target.attachToTarget",
                                     {"targetId": target, "flatten": True})["sessionId"]
            self.call("Page.enable", session=True)
            self.call("Emulation.setDeviceMetricsOverride",
                      {"width": self.window[0], "height": self.window[1],
                       "deviceScaleFactor": 1, "mobile": False}, session=True)
        self.events.clear()
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait_for_event("Page.loadEventFired", timeout)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", {"expression": expression,
                                                "returnByValue": True, "awaitPromise": True},
                           session=True)
        if "exceptionDetails" in result:
            raise DevToolsError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20):
        """The expression's value once it is truthy; DevToolsError after `timeout` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.2)
        raise DevToolsError(f"still false after {timeout} s: {expression}")

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        path.write_bytes(base64.b64decode(data))
        return path
