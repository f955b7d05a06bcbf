"""The one apt-get helper, against a stand-in `apt-get` on PATH (no root, no network)."""

import os
import stat

import pytest

from grader.errors import BaseImageError, EngineUnavailable
from grader.infra.apt import apt_install


@pytest.fixture
def fake_apt_get(tmp_path, monkeypatch):
    """An `apt-get` that records its calls and fails `install` when FAIL_INSTALL is set."""
    calls = tmp_path / "calls"
    script = tmp_path / "apt-get"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$DEBIAN_FRONTEND $*" >> {calls}\n'
        'if [ "$1" = install ] && [ -n "$FAIL_INSTALL" ]; then\n'
        '  echo "E: Unable to locate package $5" >&2; exit 100\n'
        "fi\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    return calls


def test_updates_then_installs_without_recommends_noninteractively(fake_apt_get):
    apt_install(["debootstrap"], BaseImageError)
    assert fake_apt_get.read_text().splitlines() == [
        "noninteractive update -q",
        "noninteractive install -y -q --no-install-recommends debootstrap",
    ]


@pytest.mark.parametrize("error", [BaseImageError, EngineUnavailable])
def test_failure_raises_the_callers_error_with_command_exit_code_and_output(
    fake_apt_get, monkeypatch, error
):
    monkeypatch.setenv("FAIL_INSTALL", "1")
    with pytest.raises(error) as raised:
        apt_install(["docker.io"], error)
    assert "`apt-get install -y -q --no-install-recommends docker.io` exited 100" in (
        raised.value.message
    )
    assert "Unable to locate package docker.io" in raised.value.hint
