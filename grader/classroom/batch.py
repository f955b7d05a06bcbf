"""`dockerlab batch`: grade a whole class, learners side by side, resumable.

Each learner is one `grade()` in a worker thread, fully apart from the others: a sandbox
of its own (containers, network, host ports), image tags of its own (`batch-<name>-…`,
removed when the batch ends unless asked to keep them), and result files of its own. They share
the engine's build cache (base layers are built once), one set of build slots (one per
core, so N workers do not start N × cores builds), and the reference images. Given several
engines, each learner is graded on the one with the fewest gradings under way, and each
engine's builds are bounded by its own cores.

A learner is graded again only when what is graded changed (its content hash: the
submission's files, the lab spec and the grader's version) or its last grading could not
run. Every learner's results and record are written atomically as it finishes, and the
gradebook is rewritten after each: Ctrl-C (or SIGTERM) cancels the gradings under way,
which remove what they started, and loses nothing already graded.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from grader.classroom import gradebook, records
from grader.classroom.records import ERROR, GRADED, LearnerRecord
from grader.classroom.roster import CloneError, Learner, content_hash, fetch
from grader.engine import Cancelled, Engine, Sandbox
from grader.errors import DockerlabError
from grader.files import write_atomically
from grader.pipeline.config import RunConfig
from grader.reporters import render
from grader.results import LabResult
from grader.runner import grade
from grader.spec import LabSpec

# One file per learner and format, beside record.json.
RESULT_FILES = {"terminal": "result.txt", "json": "result.json", "junit": "junit.xml",
                "github": "github.txt", "gradescope": "results.json",
                "classroom": "classroom.txt"}
LEARNERS = "learners"
REPORT = "report.html"


def default_jobs() -> int:
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Shard:
    """Part `index` (1-based) of `count`: a learner's part follows from their name alone
    (sha256), so it never changes when others join or leave the roster, and each shard's
    results can be resumed and merged (`dockerlab merge`)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        index, _, count = text.partition("/")
        try:
            shard = cls(int(index), int(count))
        except ValueError:
            shard = cls(0, 0)
        if not 1 <= shard.index <= shard.count:
            raise DockerlabError(f"--shard {text}: give K/N with 1 <= K <= N, e.g. 1/4.")
        return shard

    def holds(self, learner: str) -> bool:
        number = int.from_bytes(hashlib.sha256(learner.encode()).digest()[:8], "big")
        return number % self.count == self.index - 1


@dataclass(frozen=True)
class BatchOptions:
    jobs: int = default_jobs()
    formats: tuple[str, ...] = ("json",)
    exercises: tuple[str, ...] = ()  # empty: the whole lab
    only: tuple[str, ...] = ()  # grade these learners again, changed or not
    retry_failed: bool = False  # grade only the learners whose last grading could not run
    tag_prefix: str = ""
    keep_images: bool = False
    shard: Shard | None = None  # only this part of the roster (a CI matrix job)


@dataclass
class BatchSummary:
    graded: int = 0  # gradings that ran (whatever their score)
    passed: int = 0
    errored: int = 0  # gradings that could not run
    unchanged: int = 0  # skipped: graded before, nothing changed
    interrupted: bool = False
    duration_s: float = 0.0
    gradebook: Path | None = None
    report: Path | None = None


class BatchProgress:
    """What a batch reports while it runs; the command line shows it, tests ignore it."""

    def planned(self, learners: int) -> None: ...
    def started(self, learner: str) -> None: ...
    def finished(self, learner: str, record: LearnerRecord | None, summary: BatchSummary) -> None:
        """`record` is None when the learner was unchanged and not graded again."""


def engine_cores(engine: Engine) -> int:
    """The engine host's cores (a remote engine's are not this machine's)."""
    return max(1, int(engine.info.get("NCPU") or default_jobs()))


def grader_version() -> str:
    try:
        return version("dockerlab")
    except PackageNotFoundError:
        return "unknown"


class Batch:
    def __init__(self, lab: LabSpec, learners: list[Learner], engines: Engine | list[Engine],
                 out: Path, options: BatchOptions, progress: BatchProgress | None = None):
        self.lab = lab
        self.learners = learners
        self.engines = engines if isinstance(engines, list) else [engines]
        # Each engine's builds are bounded by its own cores; a learner is graded on the
        # engine with the fewest gradings under way.
        self.build_slots = [threading.BoundedSemaphore(engine_cores(engine))
                            for engine in self.engines]
        self.underway = [0] * len(self.engines)
        self.out = out
        self.options = options
        self.progress = progress or BatchProgress()
        self.summary = BatchSummary()
        self.stopping = threading.Event()
        self._live: set[Sandbox] = set()
        self._lock = threading.Lock()
        self._tagged: list[tuple[Engine, list[str]]] = []  # learners' tags, released at the end
        # Every roster learner's last record, kept here: the gradebook is rewritten after
        # each learner, and reading a class's records back each time would cost n².
        self.records = {learner.name: record for learner in learners
                        if (record := records.load(out, learner.name)) is not None}
        # What every learner's hash includes besides their files.
        self._graded_with = [lab.source.read_bytes(), grader_version().encode(),
                             ",".join(options.exercises).encode()]

    # -- the run ------------------------------------------------------------------------

    def run(self) -> BatchSummary:
        started = time.monotonic()
        chosen = self.chosen()
        self.progress.planned(len(chosen))
        pool = ThreadPoolExecutor(max_workers=self.options.jobs, thread_name_prefix="learner")
        try:
            futures = [pool.submit(self.grade_learner, learner) for learner in chosen]
            for future in as_completed(futures):
                future.result()  # a bug of the batch itself stops it
        except BaseException:
            self.stop()
            self.summary.interrupted = True
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            self.release_images()
            self.summary.duration_s = time.monotonic() - started
            self.summary.gradebook = self.write_gradebook()
            self.summary.report = write_report(self.lab, self.out, list(self.records.values()))
        return self.summary

    def release_images(self) -> None:
        """Untag every learner's images once the batch ends (unless asked to keep them),
        not as each learner finishes: while the batch runs, a learner whose image is the
        same as another's (a starter handed in unchanged, two identical solutions) reuses it
        by ID, and with it the outcomes remembered for that ID (the layer scan, the cache
        probe); deleting it at once made each such learner a cold build."""
        if self.options.keep_images:
            return
        for engine, tags in self._tagged:
            engine.untag(tags)
        self._tagged.clear()

    def stop(self) -> None:
        """Start no learner more, and cancel the gradings under way (each removes what it
        started before its worker ends)."""
        self.stopping.set()
        with self._lock:
            for sandbox in self._live:
                sandbox.cancel()

    def chosen(self) -> list[Learner]:
        """The learners this run considers (whether each changed is decided as it comes)."""
        shard = self.options.shard
        return [learner for learner in self.named()
                if shard is None or shard.holds(learner.name)]

    def named(self) -> list[Learner]:
        if self.options.only:
            known = {learner.name for learner in self.learners}
            unknown = sorted(set(self.options.only) - known)
            if unknown:
                raise DockerlabError(f"--only names learners not in the roster: "
                                     f"{', '.join(unknown)}.")
            return [learner for learner in self.learners if learner.name in self.options.only]
        if self.options.retry_failed:
            return [learner for learner in self.learners
                    if learner.name in self.records
                    and self.records[learner.name].status == ERROR]
        return list(self.learners)

    # -- one learner --------------------------------------------------------------------

    def grade_learner(self, learner: Learner) -> None:
        if self.stopping.is_set():
            return
        self.progress.started(learner.name)
        begun = time.monotonic()
        previous = self.records.get(learner.name)
        try:
            fetch(learner)
            digest = content_hash(learner.folder, *self._graded_with)
        except (CloneError, OSError) as error:
            self.finish(learner, self.error_record(learner, "", begun, str(error)))
            return
        forced = bool(self.options.only or self.options.retry_failed)
        if (not forced and previous is not None and previous.graded
                and previous.content_hash == digest):
            with self._lock:
                self.summary.unchanged += 1
            self.progress.finished(learner.name, None, self.summary)
            return
        # An instructor's run: the lab's hidden checks count too.
        config = RunConfig(tag_prefix=self.options.tag_prefix,
                           learner_prefix=f"batch-{learner.tag_name}-", instructor=True)
        sandboxes: list[Sandbox] = []

        def track(sandbox: Sandbox) -> None:
            sandboxes.append(sandbox)
            with self._lock:
                self._live.add(sandbox)
                if self.stopping.is_set():
                    sandbox.cancel()

        with self._lock:
            chosen = self.underway.index(min(self.underway))
            self.underway[chosen] += 1
        engine = self.engines[chosen]
        try:
            result = grade(self.lab, learner.folder, engine, list(self.options.exercises),
                           config=config, build_slots=self.build_slots[chosen],
                           on_session=track)
        except (Cancelled, KeyboardInterrupt):
            return  # interrupted: graded again next time
        except DockerlabError as error:
            record = self.error_record(learner, digest, begun, error.message)
        except Exception as bug:  # noqa: BLE001 - one learner's grader bug must not stop the class
            record = self.error_record(learner, digest, begun,
                                       f"the grader failed ({type(bug).__name__}: {bug})")
        else:
            for fmt in self.options.formats:
                write_atomically(self.out / LEARNERS / learner.name / RESULT_FILES[fmt],
                                 render(result, fmt))
            record = LearnerRecord(learner.name, GRADED, digest, time.monotonic() - begun,
                                   now(), result=to_json(result))
        finally:
            with self._lock:
                self._live.difference_update(sandboxes)
                self.underway[chosen] -= 1
            with self._lock:
                self._tagged.append((engine, [config.tag_prefix + config.learner_prefix
                                              + exercise.image for exercise in self.lab.exercises]))
        self.finish(learner, record)

    def error_record(self, learner: Learner, digest: str, begun: float,
                     message: str) -> LearnerRecord:
        return LearnerRecord(learner.name, ERROR, digest, time.monotonic() - begun, now(),
                             error=message)

    def finish(self, learner: Learner, record: LearnerRecord) -> None:
        records.save(self.out, record)  # last: its presence says the results are whole
        with self._lock:
            self.records[learner.name] = record
            if record.graded:
                self.summary.graded += 1
                self.summary.passed += bool(record.result and record.result["passed"])
            else:
                self.summary.errored += 1
            self.write_gradebook()
        self.progress.finished(learner.name, record, self.summary)

    def write_gradebook(self) -> Path:
        return gradebook.write(self.out, list(self.records.values()))


def write_report(lab: LabSpec, out: Path, kept: list[LearnerRecord]) -> Path:
    """The class report (report.html), from every learner's last record."""
    from grader.classroom.report import render_report  # matplotlib: only when a batch ends

    path = out / REPORT
    write_atomically(path, render_report(lab, sorted(kept, key=lambda record: record.learner)))
    return path


def to_json(result: LabResult) -> dict:
    """The result as its JSON report holds it (the record keeps the same keys)."""
    return json.loads(render(result, "json"))


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")

