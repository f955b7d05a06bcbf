"""Hostile submissions graded end to end by the `dockerlab` command on the real engine,
each with a canary planted on the grader's host (a file outside the submission, the
grader's own environment, a page on the host's loopback): every one ends in a verdict
with the right exit code, within its bound, with the canary in no output of any format
and nothing labelled left behind (issue 9). The bounds that need the engine's builder or
a huge answer have their own files: test_build_bounds.py, test_output_bounds.py,
test_grader_memory.py."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from grader.pipeline.steps.run import HTTP_TIMEOUT_S
from grader.reporters import FORMATS

from .conftest import REPO, SUBMISSIONS, TAG_PREFIX

pytestmark = pytest.mark.engine
EXIT_BELOW_PASS_MARK = 1
HOSTILE_HTTP = SUBMISSIONS / "hostile-http"
SLACK_S = 1.5  # what a deadline may overrun: the check's own bookkeeping on a busy machine


def canary() -> str:
    return f"CANARY-{secrets.token_hex(12)}"


def write_lab(folder: Path, checks: list[dict], run: dict | None = None) -> Path:
    """A one-exercise lab (`app`, built from the submission's app/ folder)."""
    exercise = {"id": "app", "title": "A hostile app", "dockerfile": "app/Dockerfile",
                "image": "hostile-app", "checks": checks}
    if run is not None:
        exercise["run"] = run
    lab = {"version": 1, "id": "hostile", "title": "Hostile submissions", "pass_mark": 100,
           "exercises": [exercise]}
    path = folder / "lab.yml"
    path.write_text(json.dumps(lab))  # JSON is YAML too
    return path


def graded(lab: Path, submission: Path, tmp_path: Path, **environment: str):
    """`dockerlab grade` with a report in every format: (exit code, every output, JSON)."""
    reports = {fmt: tmp_path / f"report.{fmt}" for fmt in FORMATS}
    done = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(lab), "--path", str(submission),
         "--quiet", "--tag-prefix", TAG_PREFIX,
         *[f"--report={fmt}:{path}" for fmt, path in reports.items()]],
        cwd=REPO, env={**os.environ, **environment}, capture_output=True, text=True,
        timeout=600,
    )
    outputs = [done.stdout, done.stderr, *(path.read_text() for path in reports.values())]
    return done.returncode, "\n".join(outputs), json.loads(reports["json"].read_text())


def check(result: dict, rule_id: str) -> dict:
    (found,) = [item for item in result["exercises"][0]["checks"] if item["rule_id"] == rule_id]
    return found


@pytest.fixture
def submission(tmp_path: Path) -> Path:
    """A learner's folder with the hostile app's source; tmp_path stands for the host."""
    folder = tmp_path / "submission"
    shutil.copytree(HOSTILE_HTTP, folder)
    return folder


@pytest.mark.parametrize("planted", ["host-file", "environment"])
def test_a_dockerfile_linked_out_of_the_submission_leaks_nothing(
        planted, submission, tmp_path, leaves_nothing_behind):
    secret = canary()
    dockerfile = submission / "app" / "Dockerfile"
    dockerfile.unlink()
    if planted == "host-file":
        host_file = tmp_path / "passwd"
        host_file.write_text(f"root:x:0:0:{secret}:/root:/bin/bash\n")
        dockerfile.symlink_to(host_file)
    else:  # the grader's own environment, as the kernel shows it
        dockerfile.symlink_to("/proc/self/environ")
    lab = write_lab(tmp_path, [{"kind": "stages", "points": 5}])

    code, outputs, result = graded(lab, submission, tmp_path, DOCKERLAB_CANARY=secret)

    assert code == EXIT_BELOW_PASS_MARK
    build = check(result, "ML4-BUILD")
    assert build["status"] == "failed"
    assert "symbolic link to a file outside your submission" in build["what"]
    assert check(result, "ML4-STAGES")["status"] == "skipped"
    assert secret not in outputs


def test_a_dockerignore_linked_out_of_the_submission_leaks_nothing(
        submission, tmp_path, leaves_nothing_behind):
    secret = canary()
    host_file = tmp_path / "host-ignore"
    host_file.write_text(f"{secret}\n")
    (submission / "app" / ".dockerignore").symlink_to(host_file)
    lab = write_lab(tmp_path, [{"kind": "stages", "points": 5}])

    code, outputs, result = graded(lab, submission, tmp_path)

    assert code == EXIT_BELOW_PASS_MARK
    build = check(result, "ML4-BUILD")
    assert build["status"] == "failed" and "app/.dockerignore is a symbolic link" in build["what"]
    assert secret not in outputs


class HostOnlyPage(BaseHTTPRequestHandler):
    """A service only the grader's host reaches (127.0.0.1), holding a secret page."""

    secret = ""
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 - the standard library's name
        self.requests.append(self.path)
        body = self.secret.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


@pytest.fixture
def host_only_page():
    handler = type("Page", (HostOnlyPage,), {"secret": canary(), "requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler, f"http://127.0.0.1:{server.server_address[1]}/secret"
    finally:
        server.shutdown()
        server.server_close()


def test_an_app_cannot_reach_the_host_through_the_graders_http_calls(
        submission, tmp_path, host_only_page, leaves_nothing_behind):
    page, target = host_only_page
    lab = write_lab(
        tmp_path,
        [{"kind": "http", "path": "/redirect", "text": ["welcome"], "points": 5},
         {"kind": "http", "path": "/slow", "text": ["done"], "points": 5}],
        run={"name": "app", "ports": {80: 8080}, "ready": {"path": "/health"},
             "env": {"TARGET": target}},
    )

    code, outputs, result = graded(lab, submission, tmp_path)

    assert code == EXIT_BELOW_PASS_MARK
    assert check(result, "ML4-RUN")["status"] == "passed"
    redirect, slow = [item for item in result["exercises"][0]["checks"]
                      if item["rule_id"] == "ML4-HTTP"]
    assert redirect["status"] == "failed"
    assert "302" in redirect["what"] and target in redirect["what"]  # named, never fetched
    assert page.requests == []
    assert page.secret not in outputs
    # One byte a second for ten minutes: cut at the request's deadline.
    assert slow["status"] == "failed" and f"within {HTTP_TIMEOUT_S:.0f} s" in slow["what"]
    assert slow["duration_s"] < HTTP_TIMEOUT_S + SLACK_S


def test_the_graders_environment_reaches_no_learner_container(
        submission, tmp_path, leaves_nothing_behind):
    secret = canary()
    lab = write_lab(
        tmp_path, [{"kind": "command", "command": "tr '\\0' '\\n' < /proc/1/environ",
                    "stdout": [secret], "points": 5}],
        run={"name": "app", "ports": {80: 8080}, "ready": {"path": "/health"}},
    )
    # Proxies in the grader's Docker client configuration (the SDK would pass them on).
    client_config = tmp_path / "docker-config"
    client_config.mkdir()
    (client_config / "config.json").write_text(json.dumps(
        {"proxies": {"default": {"httpProxy": f"http://grader:{secret}@proxy.invalid:3128"}}}))
    code, _, result = graded(lab, submission, tmp_path, DOCKERLAB_CANARY=secret,
                             DOCKER_CONFIG=str(client_config))
    assert code == EXIT_BELOW_PASS_MARK
    command = check(result, "ML4-CMD")
    # The app's environment was read (it has a PATH), and neither canary is in it.
    assert command["status"] == "failed" and "PATH=" in command["details"]
