"""The engine bootstrap against the real engine: idempotent, and clear when it cannot help."""

import io
import os
import socket
from contextlib import redirect_stderr

import pytest

from grader.cli import main
from grader.errors import EngineUnavailable
from grader.infra import engine as bootstrap

pytestmark = pytest.mark.engine


def run_cli(*args: str) -> tuple[int, str]:
    captured = io.StringIO()
    with redirect_stderr(captured):
        from rich.console import Console

        import grader.cli as cli_module

        cli_module.err = Console(file=captured, width=200)
        code = main(list(args))
    return code, captured.getvalue()


def test_second_engine_call_changes_nothing(engine):
    code, first = run_cli("engine")
    pid = bootstrap.dockerd_pid()
    code_again, second = run_cli("engine")
    assert (code, code_again) == (0, 0)
    assert "is ready" in second
    assert "starting dockerd" not in second and "installing" not in second
    assert bootstrap.dockerd_pid() == pid


def test_socket_that_never_answers_gives_a_clear_message(tmp_path, monkeypatch):
    path = tmp_path / "silent.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)  # accepts the connection, never answers it
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    try:
        with pytest.raises(EngineUnavailable) as raised:
            bootstrap.ensure_engine()
        assert "is there, but no engine answers" in raised.value.message
        code, text = run_cli("engine")
        assert code == 2
        assert "no engine answers" in text and "hint:" in text and "Traceback" not in text
    finally:
        listener.close()


def test_missing_socket_named_in_message(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")
    code, text = run_cli("engine")
    assert code == 2
    assert "absent.sock" in text and "Traceback" not in text


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to nobody")
def test_not_root_and_no_access_gets_advice_not_a_traceback(docker_client):
    """A real unprivileged process against the real socket (fork, then drop to nobody)."""
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            os.close(reader)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            code, text = run_cli("engine")
            os.write(writer, f"{code}\n{text}".encode())
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        output = pipe.read()
    os.waitpid(child, 0)
    code, _, text = output.partition("\n")
    assert code == "2", text
    assert "permission denied" in text.lower()
    assert "usermod -aG docker" in text or "sudo" in text
    assert "Traceback" not in text
