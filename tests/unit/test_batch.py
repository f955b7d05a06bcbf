"""The class batch without an engine: rosters, fetching learners' repositories, what is
graded again, error records, the gradebook, and image tags released (issue 10)."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import pytest

from grader.classroom import records
from grader.classroom.batch import Batch, BatchOptions, Shard
from grader.classroom.merge import merge
from grader.classroom.roster import (
    CloneError,
    Learner,
    content_hash,
    fetch,
    read_roster,
)
from grader.errors import EngineError, SubmissionError
from tests.fake_engine import GO_TWO_STAGES, FakeEngine, exercise, write_files, write_lab


def learner_folder(root: Path, name: str, dockerfile: str = GO_TWO_STAGES) -> Path:
    write_files(root / name, {"app/Dockerfile": dockerfile, "app/main.go": "package main\n"})
    return root / name


@pytest.fixture
def lab(tmp_path: Path):
    (tmp_path / "lab").mkdir()
    return write_lab(tmp_path / "lab", exercise("app", checks=[{"kind": "stages", "points": 5}]))


def run(lab, class_folder: Path, out: Path, engine: FakeEngine | None = None, **options):
    engine = engine or FakeEngine()
    learners = read_roster(class_folder, out / "checkouts")
    summary = Batch(lab, learners, engine, out, BatchOptions(jobs=2, **options)).run()
    return summary, engine


def gradebook(out: Path) -> dict[str, dict[str, str]]:
    with (out / "gradebook.csv").open(newline="") as rows:
        return {row["student"]: row for row in csv.DictReader(rows)}


# -- rosters -------------------------------------------------------------------------------


def test_a_folder_roster_is_its_learner_folders_by_name(tmp_path: Path):
    for name in ("carol", "alice", ".git"):
        (tmp_path / "class" / name).mkdir(parents=True)
    (tmp_path / "class" / "notes.txt").write_text("not a learner")
    learners = read_roster(tmp_path / "class", tmp_path / "checkouts")
    assert [learner.name for learner in learners] == ["alice", "carol"]
    assert learners[0].folder == (tmp_path / "class" / "alice").resolve()


def test_a_csv_roster_has_paths_beside_it_and_git_urls_with_refs(tmp_path: Path):
    (tmp_path / "rosters").mkdir()
    roster = tmp_path / "rosters" / "class.csv"
    roster.write_text("student,submission,ref\n# a comment\nalice,../alice\n"
                      "bob,https://git.example.invalid/bob/lab4.git,v1\n"
                      "carol,git@git.example.invalid:carol/lab4.git\n\n")
    alice, bob, carol = read_roster(roster, tmp_path / "checkouts")
    assert alice == Learner("alice", (tmp_path / "alice").resolve(), "../alice")
    assert (bob.git_url, bob.ref, bob.folder) == (
        "https://git.example.invalid/bob/lab4.git", "v1", tmp_path / "checkouts" / "bob")
    assert carol.git_url.startswith("git@") and carol.source.endswith("@HEAD")


@pytest.mark.parametrize("text, says", [
    ("alice\n", "expected `student,path-or-git-url[,ref]`"),
    ("../evil,folder\n", "cannot name a folder and an image tag"),
    ("Alice,a\nalice,b\n", "names alice twice"),
])
def test_a_bad_roster_is_refused_naming_the_line(tmp_path: Path, text: str, says: str):
    roster = tmp_path / "class.csv"
    roster.write_text(text)
    with pytest.raises(SubmissionError, match=says.replace("[", r"\[").replace("]", r"\]")):
        read_roster(roster, tmp_path / "checkouts")


def git(folder: Path, *arguments: str) -> str:
    return subprocess.run(["git", *arguments], cwd=folder, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def learner_repository(tmp_path: Path) -> Path:
    """A learner's repository (served as file://, so no traffic leaves the machine)."""
    repository = learner_folder(tmp_path, "repository")
    git(repository, "init", "--quiet", "--initial-branch=main")
    git(repository, "-c", "user.name=A", "-c", "user.email=a@example.invalid", "add", ".")
    git(repository, "-c", "user.name=A", "-c", "user.email=a@example.invalid",
        "commit", "--quiet", "-m", "first")
    git(repository, "tag", "v1")
    (repository / "app" / "main.go").write_text("package main // second\n")
    git(repository, "-c", "user.name=A", "-c", "user.email=a@example.invalid",
        "commit", "--quiet", "-am", "second")
    return repository


@pytest.mark.parametrize("ref, expected", [("", "second"), ("main", "second"), ("v1", "")])
def test_a_learners_repository_is_fetched_shallow_at_its_ref(
        tmp_path: Path, learner_repository: Path, ref: str, expected: str):
    learner = Learner("bob", tmp_path / "checkouts" / "bob", "", f"file://{learner_repository}", ref)
    fetch(learner)
    assert ("second" in (learner.folder / "app" / "main.go").read_text()) == bool(expected)
    assert git(learner.folder, "rev-list", "--count", "HEAD") == "1"  # shallow
    fetch(learner)  # again (a re-run): replaced whole
    assert (learner.folder / "app" / "Dockerfile").is_file()


def test_a_commit_can_be_the_ref(tmp_path: Path, learner_repository: Path):
    first = git(learner_repository, "rev-parse", "v1")
    learner = Learner("bob", tmp_path / "bob", "", f"file://{learner_repository}", first)
    fetch(learner)
    assert git(learner.folder, "rev-parse", "HEAD") == first


def test_a_repository_that_cannot_be_fetched_says_why(tmp_path: Path):
    learner = Learner("bob", tmp_path / "bob", "", f"file://{tmp_path}/nowhere", "")
    with pytest.raises(CloneError, match="git fetch failed"):
        fetch(learner)
    assert not learner.folder.exists()


def test_the_content_hash_follows_files_and_links_but_not_git(tmp_path: Path):
    folder = learner_folder(tmp_path, "alice")
    first = content_hash(folder, b"lab.yml v1")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    assert content_hash(folder, b"lab.yml v1") == first
    assert content_hash(folder, b"lab.yml v2") != first
    (folder / "app" / "link").symlink_to("main.go")
    linked = content_hash(folder, b"lab.yml v1")
    assert linked != first
    (folder / "app" / "link").unlink()
    (folder / "app" / "link").symlink_to("Dockerfile")
    assert content_hash(folder, b"lab.yml v1") != linked


# -- the batch ------------------------------------------------------------------------------


def test_a_batch_grades_each_learner_once_and_again_only_when_changed(tmp_path: Path, lab):
    class_folder = tmp_path / "class"
    for name in ("alice", "bob", "carol"):
        learner_folder(class_folder, name)
    out = tmp_path / "out"

    summary, engine = run(lab, class_folder, out, formats=("json", "junit"))
    assert (summary.graded, summary.unchanged, summary.errored) == (3, 0, 0)
    book = gradebook(out)
    assert sorted(book) == ["alice", "bob", "carol"]
    assert book["alice"]["status"] == "graded" and book["alice"]["percent"] == "100.0"
    assert book["alice"]["app/ML4-STAGES " + "at least 2 stages build the final image, which "
                         "copies from an earlier stage"] == "5.0"
    report = (out / "report.html").read_text()
    for name in ("alice", "bob", "carol"):
        assert name in report
        assert (out / "learners" / name / "result.json").is_file()
        assert (out / "learners" / name / "junit.xml").is_file()
    # Each learner's images are tagged apart and released once graded.
    assert sorted(engine.untagged) == [f"batch-{name}-dockerlab/app"
                                       for name in ("alice", "bob", "carol")]
    builds = [call.args["request"].tag for sandbox in engine.sandboxes
              for call in sandbox.made("build")]
    assert sorted(builds) == sorted(engine.untagged)

    summary, engine = run(lab, class_folder, out)
    assert (summary.graded, summary.unchanged) == (0, 3) and engine.sandboxes == []

    (class_folder / "bob" / "app" / "main.go").write_text("package main // changed\n")
    summary, engine = run(lab, class_folder, out)
    assert (summary.graded, summary.unchanged) == (1, 2)
    assert [call.args["request"].tag for sandbox in engine.sandboxes
            for call in sandbox.made("build")] == ["batch-bob-dockerlab/app"]

    summary, _ = run(lab, class_folder, out, only=("carol",))
    assert (summary.graded, summary.unchanged) == (1, 0)


class FailingFor(FakeEngine):
    """An engine that fails every grading of one learner's (its build context names them)."""

    def __init__(self, learner: str):
        super().__init__()
        self.learner = learner

    def session(self, owner: str = "grader"):
        sandbox = super().session(owner)
        build = sandbox.build

        def failing_build(request, **options):
            if f"/{self.learner}/" in str(request.context_dir) + "/":
                raise EngineError("The Docker engine failed while building an image: gone")
            return build(request, **options)

        sandbox.build = failing_build
        return sandbox


def test_a_grading_that_cannot_run_is_recorded_and_retried(tmp_path: Path, lab):
    class_folder = tmp_path / "class"
    for name in ("alice", "bob"):
        learner_folder(class_folder, name)
    out = tmp_path / "out"

    summary, _ = run(lab, class_folder, out, engine=FailingFor("bob"))
    assert (summary.graded, summary.errored) == (1, 1)
    book = gradebook(out)
    assert book["bob"]["status"] == "error" and "gone" in book["bob"]["error"]
    assert book["bob"]["percent"] == "" and book["alice"]["status"] == "graded"
    assert not (out / "learners" / "bob" / "result.json").exists()

    # --retry-failed grades bob only; then a plain re-run has nothing to do.
    summary, _ = run(lab, class_folder, out, retry_failed=True)
    assert (summary.graded, summary.errored, summary.unchanged) == (1, 0, 0)
    assert gradebook(out)["bob"]["status"] == "graded"
    summary, _ = run(lab, class_folder, out)
    assert (summary.graded, summary.unchanged) == (0, 2)
    assert records.load(out, "bob").graded


def test_only_names_known_learners(tmp_path: Path, lab):
    learner_folder(tmp_path / "class", "alice")
    with pytest.raises(Exception, match="not in the roster: zed"):
        run(lab, tmp_path / "class", tmp_path / "out", only=("zed",))


def test_shards_merged_equal_the_unsharded_gradebook(tmp_path: Path, lab):
    class_folder = tmp_path / "class"
    names = [f"learner-{number:02d}" for number in range(10)]
    for number, name in enumerate(names):
        broken = GO_TWO_STAGES.replace("COPY --from=builder", "COPY") if number % 3 else GO_TWO_STAGES
        learner_folder(class_folder, name, broken)
    run(lab, class_folder, tmp_path / "whole")
    parts = [tmp_path / f"shard-{index}" for index in (1, 2)]
    for index, part in enumerate(parts, start=1):
        run(lab, class_folder, part, shard=Shard(index, 2))
    in_parts = [sorted(gradebook(part)) for part in parts]
    assert in_parts[0] and in_parts[1] and not set(in_parts[0]) & set(in_parts[1])
    # Each learner's part follows from their name: the same in any roster.
    assert Shard(1, 2).holds("learner-00") == ("learner-00" in in_parts[0])

    merge(lab, parts, tmp_path / "merged")

    def comparable(book):  # when and how long differ from run to run, nothing else
        return {name: {column: value for column, value in row.items()
                       if column not in ("duration_s", "graded_at")}
                for name, row in book.items()}

    assert comparable(gradebook(tmp_path / "merged")) == comparable(gradebook(tmp_path / "whole"))
    assert sorted(gradebook(tmp_path / "merged")) == names
    assert (tmp_path / "merged" / "learners" / "learner-03" / "result.json").is_file()
    assert "learner-03" in (tmp_path / "merged" / "report.html").read_text()


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b"])
def test_a_shard_is_k_of_n(text: str):
    with pytest.raises(Exception, match="give K/N"):
        Shard.parse(text)


def test_a_class_is_spread_over_several_engines(tmp_path: Path, lab):
    for number in range(6):
        learner_folder(tmp_path / "class", f"learner-{number}")
    engines = [FakeEngine(), FakeEngine()]
    learners = read_roster(tmp_path / "class", tmp_path / "checkouts")
    summary = Batch(lab, learners, engines, tmp_path / "out", BatchOptions(jobs=2)).run()
    assert summary.graded == 6
    graded_on = [len(engine.sandboxes) for engine in engines]
    assert sum(graded_on) == 6 and min(graded_on) >= 2  # both engines took part
    # Each learner's tags are released on the engine that built them.
    for engine in engines:
        built = sorted(call.args["request"].tag for sandbox in engine.sandboxes
                       for call in sandbox.made("build"))
        assert sorted(engine.untagged) == built


def test_a_batch_writes_a_result_file_for_every_format():
    from grader.classroom.batch import RESULT_FILES
    from grader.reporters import FORMATS

    assert set(RESULT_FILES) == set(FORMATS)
    assert len(set(RESULT_FILES.values())) == len(RESULT_FILES)  # no two in one file
