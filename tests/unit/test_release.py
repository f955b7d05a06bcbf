"""The student release's rules, without building anything: what ships, and the lab spec
without its hidden checks (comments and layout kept)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from grader.release import ships, without_hidden_checks

LAB, SOLUTION = Path("labs/lab4"), Path("labs/lab4/solution")


@pytest.mark.parametrize("path, shipped", [
    ("labs/lab4/lab/Dockerfile", True),
    ("labs/lab4/lab.yml", True),
    ("labs/lab4/solution/lab/Dockerfile", False),
    ("labs/lab5/lab.yml", False),  # another lab
    ("tests/submissions/gate-never-serves/lab/Dockerfile", False),  # near-solutions
    ("benchmarks/grade_cache.py", False),
    (".ci/run", False),
    ("grader/cli.py", True),
    ("apps/greeter/main.go", True),
    ("docs/checks/ML4-SIZE.md", True),
])
def test_what_ships(path: str, shipped: bool):
    assert ships(PurePosixPath(path), LAB, SOLUTION) is shipped


def test_hidden_checks_leave_the_spec_and_its_comments_stay(tmp_path: Path):
    spec = tmp_path / "lab.yml"
    spec.write_text(
        "version: 1\n"
        "exercises:\n"
        "  - id: lab\n"
        "    checks:\n"
        "      - {kind: stages, points: 5, required: true}\n"
        "      - {kind: non-root-user, points: 0, hidden: true}   # instructors only\n"
        "      - kind: http\n"
        "        path: /admin\n"
        "        hidden: true\n"
        "      - {kind: lint, ignore: [DL3006]}   # pinned on purpose\n")
    assert without_hidden_checks(spec) == 2
    text = spec.read_text()
    assert "hidden" not in text and "/admin" not in text
    assert "      - {kind: lint, ignore: [DL3006]}   # pinned on purpose\n" in text


def test_a_spec_without_hidden_checks_is_left_byte_for_byte(tmp_path: Path):
    spec = tmp_path / "lab.yml"
    original = "version: 1\ntitle: \"Lab\"   # quoted\nexercises: []\n"
    spec.write_text(original)
    assert without_hidden_checks(spec) == 0
    assert spec.read_text() == original
