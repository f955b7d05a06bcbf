"""Who is graded, and where their files are.

A roster is a folder of learner folders (each laid out as the lab is: `lab/Dockerfile`, …)
or a CSV file, `student,path-or-git-url[,ref]`, whose paths are relative to the CSV's own
folder and whose git URLs are cloned shallow at the ref (default: the remote's HEAD) with
the `git` command line, fresh at every batch so a learner's new push is graded.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader.errors import SubmissionError

# Learner names become folder names and parts of image tags.
LEARNER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
GIT_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)
CLONE_TIMEOUT_S = 300
HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class Learner:
    name: str
    folder: Path  # the submission, laid out as the lab is (for a git URL: its checkout)
    source: str  # as the roster gives it: a folder, or "<git URL>@<ref>"
    git_url: str = ""
    ref: str = ""

    @property
    def tag_name(self) -> str:
        """The name in Docker's tag alphabet (lower case), e.g. for `batch-alice-lab4-greeter`."""
        return self.name.lower()


def read_roster(source: Path, checkouts: Path) -> list[Learner]:
    """The learners of a folder of folders or of a CSV roster, sorted by name."""
    if source.is_dir():
        learners = [Learner(checked_name(entry.name, source), entry.resolve(), str(entry))
                    for entry in source.iterdir()
                    if entry.is_dir() and not entry.name.startswith(".")]
    elif source.is_file():
        learners = from_csv(source, checkouts)
    else:
        raise SubmissionError(f"There is no roster at {source}.",
                              hint="Give a folder of learner folders or a CSV roster "
                              "(student,path-or-git-url[,ref]).")
    names = [learner.name.lower() for learner in learners]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise SubmissionError(f"The roster {source} names {', '.join(duplicates)} twice "
                              "(names are compared in lower case: they become image tags).",
                              hint="Give each learner one row with a name of their own.")
    return sorted(learners, key=lambda learner: learner.name)


def from_csv(roster: Path, checkouts: Path) -> list[Learner]:
    learners = []
    with roster.open(newline="", encoding="utf-8-sig") as rows:
        for number, row in enumerate(csv.reader(rows), start=1):
            cells = [cell.strip() for cell in row]
            if not any(cells) or cells[0].startswith("#"):
                continue
            if number == 1 and cells[0].lower() in ("student", "learner", "name"):
                continue  # a header row
            if len(cells) < 2 or not cells[1]:
                raise SubmissionError(f"{roster}:{number}: expected `student,path-or-git-url"
                                      f"[,ref]`, found {','.join(cells)!r}.")
            name = checked_name(cells[0], roster, number)
            where, ref = cells[1], cells[2] if len(cells) > 2 else ""
            if GIT_URL.match(where):
                learners.append(Learner(name, checkouts / name, f"{where}@{ref or 'HEAD'}",
                                        git_url=where, ref=ref))
            else:
                folder = (roster.parent / where).resolve()
                learners.append(Learner(name, folder, where))
    return learners


def checked_name(name: str, source: Path, line: int | None = None) -> str:
    if not LEARNER_NAME.match(name):
        where = f"{source}:{line}" if line else str(source)
        raise SubmissionError(
            f"{where}: the learner name {name!r} cannot name a folder and an image tag.",
            hint="Use letters, digits, '.', '_' and '-' (at most 64), starting with a letter "
            "or digit.")
    return name


class CloneError(Exception):
    """A learner's repository could not be fetched: that learner's grading errors."""


def fetch(learner: Learner) -> None:
    """Clone the learner's repository at its ref (shallow) into `learner.folder`, replacing
    an earlier checkout only once the new one is complete."""
    if not learner.git_url:
        return
    learner.folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=learner.folder.parent, prefix=f".{learner.name}."))
    try:
        # init + fetch of one ref works for a branch, a tag and a commit alike (clone
        # --branch takes no commit); no prompt may wait for credentials that never come.
        git(["init", "--quiet"], staging)
        git(["fetch", "--quiet", "--depth", "1", "--", learner.git_url, learner.ref or "HEAD"],
            staging)
        git(["checkout", "--quiet", "--detach", "FETCH_HEAD"], staging)
        shutil.rmtree(learner.folder, ignore_errors=True)
        staging.rename(learner.folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def git(arguments: list[str], folder: Path) -> None:
    environment = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
    try:
        subprocess.run(["git", "-c", "advice.detachedHead=false", *arguments], cwd=folder,
                       env=environment, capture_output=True, text=True, check=True,
                       timeout=CLONE_TIMEOUT_S)
    except subprocess.CalledProcessError as failed:
        said = (failed.stderr or failed.stdout).strip().splitlines()
        raise CloneError(f"git {arguments[0]} failed: {said[-1] if said else failed}") from None
    except subprocess.TimeoutExpired:
        raise CloneError(f"git {arguments[0]} took longer than {CLONE_TIMEOUT_S} s") from None


def content_hash(folder: Path, *also: bytes) -> str:
    """sha256 of what is graded: every entry under `folder` but `.git` (its path, its kind,
    a file's bytes, a link's target), and `also` (the lab spec, the grader's version)."""
    digest = hashlib.sha256()
    for part in also:
        digest.update(len(part).to_bytes(8, "big") + part)
    for root, folders, files in os.walk(folder):
        folders[:] = sorted(name for name in folders if name != ".git")
        for name in sorted(files) + [name for name in folders if os.path.islink(os.path.join(root, name))]:
            path = os.path.join(root, name)
            relative = os.path.relpath(path, folder).encode()
            mode = os.lstat(path).st_mode
            digest.update(b"\0" + relative + b"\0")
            if stat.S_ISLNK(mode):
                digest.update(b"link:" + os.readlink(path).encode())
            elif stat.S_ISREG(mode):
                digest.update(b"file:")
                with open(path, "rb") as handle:
                    while chunk := handle.read(HASH_CHUNK):
                        digest.update(chunk)
            else:
                digest.update(f"special:{stat.S_IFMT(mode)}".encode())  # never opened
    return digest.hexdigest()
