"""HTTP calls to a learner's container are bounded (issue 9): a redirect is reported, never
followed; at most HTTP_BODY_CAP bytes of a body are read; `timeout_s` is a deadline for the
whole request, not for each read. The servers here are started by the tests on 127.0.0.1."""

from __future__ import annotations

import resource
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from grader.engine import HttpAnswer
from grader.engine.containers import HTTP_BODY_CAP, Service, call
from grader.results import Status
from tests.fake_engine import Answers, FakeEngine, Recorded, quick_readiness, service
from tests.unit.test_check_kinds import GO_TWO_STAGES, assert_verdict, graded, result_of

MiB = 1024 * 1024
STOP = threading.Event()  # set when a test ends: the slow handlers stop at once


class Server(ThreadingHTTPServer):
    daemon_threads = True
    requests_seen: int = 0


@contextmanager
def serving(handle: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[Server]:
    """A server on 127.0.0.1 whose GET is `handle`; stopped when the block ends."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.server.requests_seen += 1
            try:
                handle(self)
            except OSError:  # the grader closed the connection: what these tests expect
                pass

        def log_message(self, *args) -> None:
            pass

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    STOP.clear()
    try:
        yield server
    finally:
        STOP.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def service_on(server: Server) -> Service:
    return Service("app", "web", "web", "c0ffee", host_ports={80: server.server_address[1]})


def head(handler: BaseHTTPRequestHandler, status: int = 200, **headers: str) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()


# --- redirects ------------------------------------------------------------------------------

def test_a_redirect_is_reported_with_its_target_and_never_fetched():
    def secret(handler: BaseHTTPRequestHandler) -> None:
        head(handler, Content_Type="text/plain")
        handler.wfile.write(b"CANARY-host-secret")

    with serving(secret) as host_only:
        target = f"http://127.0.0.1:{host_only.server_address[1]}/admin"

        def redirect(handler: BaseHTTPRequestHandler) -> None:
            head(handler, 302, Location=target, Content_Length="0")

        with serving(redirect) as app:
            answer = call(service_on(app), "GET", "/", timeout_s=3)
        assert (answer.status, answer.redirect) == (302, target)
        assert "CANARY" not in answer.text
        assert host_only.requests_seen == 0
        assert app.requests_seen == 1


def test_an_answer_that_is_no_redirect_has_no_target():
    def ok(handler: BaseHTTPRequestHandler) -> None:
        head(handler, Content_Type="application/json; charset=utf-8", Content_Length="11")
        handler.wfile.write(b'{"a": "\xc3\xa9"}')

    with serving(ok) as app:
        answer = call(service_on(app), "GET", "/")
    assert (answer.status, answer.redirect, answer.truncated) == (200, "", False)
    assert answer.json() == {"a": "é"}


# --- the body cap ---------------------------------------------------------------------------

def test_a_50_mb_body_is_read_up_to_the_cap_in_little_memory():
    block = b"x" * (64 * 1024)

    def huge(handler: BaseHTTPRequestHandler) -> None:
        head(handler, Content_Type="text/plain", Content_Length=str(50 * MiB))
        for _ in range(50 * MiB // len(block)):  # the same block: the server holds 64 KiB
            if STOP.is_set():
                return
            handler.wfile.write(block)

    with serving(huge) as app:
        peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        tracemalloc.start()
        try:
            answer = call(service_on(app), "GET", "/big", timeout_s=10)
            _, traced_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert answer.status == 200 and answer.truncated
    assert len(answer.text) == HTTP_BODY_CAP
    assert traced_peak < 8 * MiB, f"{traced_peak / MiB:.1f} MiB allocated for one call"
    assert growth_kib < 32 * 1024, f"peak resident memory grew by {growth_kib / 1024:.0f} MiB"


def test_a_body_of_exactly_the_cap_is_whole():
    def exact(handler: BaseHTTPRequestHandler) -> None:
        head(handler, Content_Length=str(HTTP_BODY_CAP))
        handler.wfile.write(b"y" * HTTP_BODY_CAP)

    with serving(exact) as app:
        answer = call(service_on(app), "GET", "/")
    assert (answer.status, answer.truncated, len(answer.text)) == (200, False, HTTP_BODY_CAP)


# --- the deadline ---------------------------------------------------------------------------

def trickle(handler: BaseHTTPRequestHandler, data: bytes) -> None:
    """One byte a second, for at most 30 s."""
    for byte in data[:30]:
        if STOP.wait(1):
            return
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()


@pytest.mark.parametrize("slow", ["body", "headers"])
def test_a_byte_a_second_is_cut_at_the_deadline(slow: str):
    def slowly(handler: BaseHTTPRequestHandler) -> None:
        if slow == "headers":
            handler.wfile.write(b"HTTP/1.0 200 OK\r\nX-Slow: " + b"z" * 40)
            handler.wfile.flush()
            trickle(handler, b"z" * 40)
        else:
            head(handler, Content_Length="100")
            trickle(handler, b"a" * 100)

    with serving(slowly) as app:
        begun = time.monotonic()
        answer = call(service_on(app), "GET", "/", timeout_s=2)
        took = time.monotonic() - begun
    assert answer.status is None
    assert answer.error == "no complete answer within 2 s"
    assert took < 2 + 1, f"took {took:.1f} s"


def test_nothing_listening_is_still_a_connection_error():
    with serving(lambda handler: None) as app:
        port = app.server_address[1]
    answer = call(Service("app", "web", "web", "c0ffee", host_ports={80: port}), "GET", "/")
    assert (answer.status, answer.error) == (None, "ConnectionError")


# --- ML4-HTTP judging them ------------------------------------------------------------------

@pytest.fixture
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DOCKERLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    quick_readiness(monkeypatch)


def judged(tmp_path: Path, answer: HttpAnswer, check: dict):
    routes = {"GET /health": (200, "ok"), "GET /image": tuple(vars(answer).values())}
    engine = FakeEngine({"app": Recorded(service=Answers(routes))})
    return result_of(graded(tmp_path, GO_TWO_STAGES, check, engine=engine, run=service("web")),
                     "ML4-HTTP")


@pytest.mark.usefixtures("_isolated")
def test_http_reports_a_redirect_it_does_not_follow(tmp_path: Path):
    answer = HttpAnswer(302, "", redirect="http://127.0.0.1:9999/admin")
    result = judged(tmp_path, answer, {"kind": "http", "path": "/image", "points": 5})
    assert_verdict(result, Status.FAILED, 0,
                   "GET /image on web answered 302, a redirect to http://127.0.0.1:9999/admin, "
                   "which the grader does not follow; the check expects 200.",
                   "Make the app serve /image itself")


@pytest.mark.usefixtures("_isolated")
def test_http_judges_the_first_mib_of_a_cut_body_and_says_so(tmp_path: Path):
    answer = HttpAnswer(200, "x" * HTTP_BODY_CAP, truncated=True)
    result = judged(tmp_path, answer, {"kind": "http", "path": "/image", "text": ["needle"],
                                       "points": 5})
    assert_verdict(result, Status.FAILED, 0, "lacks text 'needle'",
                   "only its first MiB was read")
