"""`dockerlab batch` on the real engine (issue 10): a class of twelve made here —
reference solutions, starters and broken ones — graded two at a time; each gradebook row
equals that learner's own `dockerlab grade`, check by check; a re-run with nothing changed
grades nothing; Ctrl-C loses nothing already graded and leaves nothing behind."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import labelled

from .conftest import REPO, SUBMISSIONS, TAG_PREFIX

pytestmark = pytest.mark.engine
LAB4 = REPO / "labs" / "lab4"
EXERCISE = "lab"  # the chapter's own exercise: quick to build, runs a container
BROKEN = ["gate-never-serves", "gate-whole-builder", "gate-entrypoint-echo", "gate-cache-miss"]


def make_class(folder: Path) -> list[str]:
    """Twelve learners: four reference solutions, four starters, four broken (each a
    solution whose lab/Dockerfile carries one of the gate tests' mistakes)."""
    names = []
    for number in range(4):
        shutil.copytree(LAB4 / "solution", folder / f"solution-{number}")
        starter = folder / f"starter-{number}"
        for part in ("multi-stage", "image-of-the-day", "access-log", "image-gallery", "lab"):
            shutil.copytree(LAB4 / part, starter / part)
        broken = folder / BROKEN[number]
        shutil.copytree(LAB4 / "solution", broken)
        shutil.copy(SUBMISSIONS / BROKEN[number] / "lab" / "Dockerfile", broken / "lab" / "Dockerfile")
        names += [f"solution-{number}", f"starter-{number}", BROKEN[number]]
    return sorted(names)


def dockerlab(*arguments: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *arguments], cwd=REPO,
                          capture_output=True, text=True, timeout=900, **options)


def batch(class_folder: Path, out: Path, *more: str) -> subprocess.CompletedProcess:
    return dockerlab("batch", "lab4", str(class_folder), EXERCISE, "--out", str(out),
                     "--tag-prefix", TAG_PREFIX, "--quiet", *more)


def gradebook(out: Path) -> dict[str, dict[str, str]]:
    with (out / "gradebook.csv").open(newline="", encoding="utf-8") as rows:
        return {row["student"]: row for row in csv.DictReader(rows)}


def graded_at(out: Path) -> dict[str, str]:
    return {name: row["graded_at"] for name, row in gradebook(out).items()}


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """The class, graded once by the batch (shared by the tests that only read it)."""
    root = tmp_path_factory.mktemp("class")
    names = make_class(root / "class")
    began = time.monotonic()
    done = batch(root / "class", root / "out", "--jobs", "2", "--format", "json")
    assert done.returncode == 0, done.stderr
    return root, names, time.monotonic() - began


def test_each_gradebook_row_equals_the_learners_own_grading(graded_class, tmp_path,
                                                              leaves_nothing_behind):
    root, names, _ = graded_class
    book = gradebook(root / "out")
    assert sorted(book) == names
    for name in names:
        alone = tmp_path / f"{name}.json"
        done = dockerlab("grade", "lab4", EXERCISE, "--path", str(root / "class" / name),
                         "--quiet", "--instructor", "--tag-prefix", TAG_PREFIX,
                         "--report", f"json:{alone}")  # a batch is an instructor's run
        assert done.returncode in (0, 1), done.stderr
        result = json.loads(alone.read_text())
        row = book[name]
        assert row["status"] == "graded"
        assert float(row["score"]) == result["score"] and float(row["percent"]) == pytest.approx(
            result["percent"], abs=0.05)
        assert row["verdict"] == ("passed" if result["passed"] else "failed")
        (exercise,) = result["exercises"]
        for check in exercise["checks"]:
            column = f"{EXERCISE}/{check['rule_id']} {check['title']}"
            assert float(row[column]) == check["points"], (name, column)
        # The learner's own result file holds the same verdicts.
        kept = json.loads((root / "out" / "learners" / name / "result.json").read_text())
        assert [(c["rule_id"], c["status"], c["points"]) for c in kept["exercises"][0]["checks"]] \
            == [(c["rule_id"], c["status"], c["points"]) for c in exercise["checks"]]
    verdicts = {name: book[name]["verdict"] for name in names}
    assert all(verdicts[f"solution-{n}"] == "passed" for n in range(4))
    assert all(verdicts[f"starter-{n}"] == "failed" for n in range(4))
    # Each broken one loses points (a cache miss only those: it is no required check).
    assert all(float(book[name]["percent"]) < 100 for name in BROKEN)


def test_a_rerun_grades_only_what_changed(graded_class, leaves_nothing_behind):
    root, names, first_s = graded_class
    before = graded_at(root / "out")
    began = time.monotonic()
    done = batch(root / "class", root / "out", "--jobs", "2")
    again_s = time.monotonic() - began
    assert done.returncode == 0 and "0 graded" in done.stdout and "12 unchanged" in done.stdout
    assert graded_at(root / "out") == before
    assert again_s < 15, f"a re-run with nothing changed took {again_s:.1f} s"  # vs first_s
    changed = root / "class" / "starter-2" / "lab" / "Dockerfile"
    changed.write_text(changed.read_text() + "\n# changed by the learner\n")
    time.sleep(1)  # graded_at has whole seconds
    done = batch(root / "class", root / "out", "--jobs", "2")
    assert done.returncode == 0 and "1 graded" in done.stdout, done.stdout
    after = graded_at(root / "out")
    assert [name for name in names if after[name] != before[name]] == ["starter-2"]


def test_ctrl_c_keeps_every_learner_finished_and_leaves_nothing(tmp_path, docker_client,
                                                                leaves_nothing_behind):
    names = make_class(tmp_path / "class")
    out = tmp_path / "out"
    batching = subprocess.Popen(
        [sys.executable, "-m", "grader", "batch", "lab4", str(tmp_path / "class"), EXERCISE,
         "--out", str(out), "--tag-prefix", TAG_PREFIX, "--quiet", "--jobs", "1"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (out / "gradebook.csv").exists() or len(gradebook(out)) < 2:
        assert batching.poll() is None, batching.communicate()
        assert time.monotonic() < deadline, "the batch finished no learner"
        time.sleep(0.2)
    batching.send_signal(signal.SIGINT)
    _, stderr = batching.communicate(timeout=120)
    assert batching.returncode == 130, stderr

    book = gradebook(out)
    finished = sorted(path.parent.name for path in (out / "learners").glob("*/record.json"))
    assert 2 <= len(book) < len(names)
    assert sorted(book) == finished  # every learner finished before Ctrl-C, and no other
    for name in finished:
        record = json.loads((out / "learners" / name / "record.json").read_text())
        assert record["status"] == "graded"
        json.loads((out / "learners" / name / "result.json").read_text())  # whole
    assert [path.name for path in out.rglob("*.tmp")] == []
    assert labelled(docker_client, "grader") == []
    assert not [image for image in docker_client.images.list()
                for tag in image.tags if tag.startswith(f"{TAG_PREFIX}batch-")]
    # The interrupted learners are graded by the next run; the finished ones are not.
    done = batch(tmp_path / "class", out, "--jobs", "2")
    assert done.returncode == 0
    assert f"{len(names) - len(finished)} graded" in done.stdout, done.stdout
    assert sorted(gradebook(out)) == names
    assert os.listdir(out / "learners")
