"""The whole grader's peak resident memory, measured from its own process: `python -m grader
grade` runs in a subprocess on a lab written here, and the kernel's high-water mark of that
process (VmHWM) is read while it runs; what it ran (hadolint) is counted by the rusage of its
end, which also counts the test process as it was when it started the grading (Linux records
the memory a process had before `exec` as its own), so it overstates. Whatever the submission
— a 10,000-line Dockerfile, one just below the line cap, an endpoint answering 500 MB, a
container printing 1 GB — it stays under RSS_BOUND_MB, with the verdict each deserves.

Measured on Docker 20.10 (2 cores): a normal grading peaks at about 50 MB (lab4's reference
solution, one exercise or all five), and so does each case here; before the bounds (issue 9)
the 10,000-line file took hadolint past 8 GB, the 500 MB answer 1.5 GB, the 1 GB output 3.2 GB.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fake_engine import exercise, write_files, write_lab

from .conftest import REPO, TAG_PREFIX

pytestmark = pytest.mark.engine

# The documented bound (docs/reference/bounds.md): the 56 MB measured, plus one layer scan at
# its own bounds (115 MB at worst), plus the MiB-sized caps of bodies and outputs, with room.
RSS_BOUND_MB = 300
GRADING_TIMEOUT_S = 300


def continued_run(lines: int) -> str:
    """A Dockerfile of `lines` lines: FROM, then one RUN continued over all the others."""
    return "FROM diamol/base\nRUN echo \\\n" + "  a \\\n" * (lines - 3) + "  a\n"


BIG_BODY_CGI = """\
#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
head -c 500000000 /dev/zero
"""
LOUD_SCRIPT = """\
line=$(head -c 16000 /dev/zero | tr '\\0' x)
yes "$line" | head -c 1000000000
echo
echo done
"""
SERVED = {"name": "big", "ports": {80: 8080}, "ready": {"path": "/health", "timeout_s": 60}}
EXERCISES = [
    exercise("long", checks=[{"kind": "stages"}, {"kind": "lint"}]),
    exercise("below", checks=[{"kind": "stages"}, {"kind": "lint"},
                              {"kind": "instructions", "command": False}]),
    exercise("body", run=SERVED, checks=[{"kind": "http", "path": "/cgi-bin/big", "points": 1}]),
    exercise("loud", checks=[{"kind": "output", "contains": ["done"], "timeout_s": 120}]),
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("memory")
    write_files(root, {
        "long/Dockerfile": continued_run(10_000),
        "below/Dockerfile": continued_run(4_900),
        "body/Dockerfile": 'FROM diamol/base\nCOPY www /www\nCMD ["httpd", "-f", "-p", "80", '
                           '"-h", "/www"]\n',
        "body/www/health": "ok\n",
        "body/www/cgi-bin/big": BIG_BODY_CGI,
        "loud/Dockerfile": 'FROM diamol/base\nCOPY loud.sh /\nCMD ["sh", "/loud.sh"]\n',
        "loud/loud.sh": LOUD_SCRIPT,
    })
    cgi = root / "body/www/cgi-bin/big"
    cgi.chmod(cgi.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    write_lab(root, *EXERCISES)
    return root


def graded_measured(tmp_path: Path, *arguments: str) -> tuple[dict, float]:
    """`python -m grader grade <arguments>` as a learner runs it; its JSON report and its peak
    resident memory in MB: the larger of its own high-water mark and its rusage at the end."""
    report = tmp_path / "report.json"
    env = {**os.environ, "DOCKERLAB_CACHE": str(tmp_path / "cache")}  # nothing remembered
    with open(tmp_path / "stderr.txt", "w") as stderr:
        grading = subprocess.Popen(
            [sys.executable, "-m", "grader", "grade", *arguments, "--quiet", "--format", "json",
             "--output", str(report), "--tag-prefix", TAG_PREFIX],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + GRADING_TIMEOUT_S
        high_water_kb = 0
        while (ended := os.wait4(grading.pid, os.WNOHANG))[0] == 0:
            if time.monotonic() > deadline:
                grading.kill()
                pytest.fail(f"the grading took more than {GRADING_TIMEOUT_S} s")
            high_water_kb = max(high_water_kb, vm_hwm_kb(grading.pid))
            time.sleep(0.02)
    grading.returncode = os.waitstatus_to_exitcode(ended[1])  # reaped here, not by Popen
    said = (tmp_path / "stderr.txt").read_text()
    assert grading.returncode in (0, 1), said
    own_mb, with_children_mb = high_water_kb / 1024, ended[2].ru_maxrss / 1024  # kB on Linux
    print(f"\n`grade {' '.join(arguments[:2])}`: peak RSS {own_mb:.0f} MB "
          f"(rusage, with what it ran: {with_children_mb:.0f} MB)")
    return json.loads(report.read_text()), max(own_mb, with_children_mb)


def vm_hwm_kb(pid: int) -> int:
    """The process's peak resident memory so far, as the kernel keeps it; 0 once it ended."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), 0)
    except OSError:
        return 0


def check(report: dict, rule_id: str) -> dict:
    (found,) = [check for exercise in report["exercises"] for check in exercise["checks"]
                if check["rule_id"] == rule_id]
    return found


def test_a_normal_grading_stays_under_the_bound(tmp_path, leaves_nothing_behind):
    report, peak_mb = graded_measured(tmp_path, "lab4", "lab", "--solution")
    assert report["passed"]
    assert peak_mb < RSS_BOUND_MB


def test_a_10000_line_dockerfile_is_refused_before_it_is_read(lab, tmp_path,
                                                              leaves_nothing_behind):
    report, peak_mb = graded_measured(tmp_path, str(lab / "lab.yml"), "long", "--path", str(lab))
    build = check(report, "ML4-BUILD")
    assert build["status"] == "failed"
    assert "has 10,000 lines; the grader reads files of at most 5,000 lines" in build["what"]
    assert peak_mb < RSS_BOUND_MB


def test_a_4900_line_dockerfile_is_parsed_built_and_not_linted(lab, tmp_path,
                                                               leaves_nothing_behind):
    report, peak_mb = graded_measured(tmp_path, str(lab / "lab.yml"), "below", "--path", str(lab))
    assert check(report, "ML4-BUILD")["status"] == "passed"
    assert check(report, "ML4-INSTR")["status"] == "passed"  # parsed: one stage, two steps
    lint = check(report, "ML4-LINT")
    assert "4,900 lines" in lint["what"] and "1,000" in lint["what"]
    assert peak_mb < RSS_BOUND_MB


def test_an_endpoint_answering_500_mb_is_read_up_to_its_cap(lab, tmp_path,
                                                            leaves_nothing_behind):
    report, peak_mb = graded_measured(tmp_path, str(lab / "lab.yml"), "body", "--path", str(lab))
    http = check(report, "ML4-HTTP")
    assert http["status"] == "passed", http["what"]
    assert "only its first MiB was read" in http["what"]
    assert peak_mb < RSS_BOUND_MB


def test_a_container_printing_1_gb_is_judged_from_its_capped_log(lab, tmp_path,
                                                                leaves_nothing_behind):
    report, peak_mb = graded_measured(tmp_path, str(lab / "lab.yml"), "loud", "--path", str(lab))
    output = check(report, "ML4-OUTPUT")
    assert output["status"] == "passed", output["what"]  # `done`, printed last, was kept
    assert peak_mb < RSS_BOUND_MB
