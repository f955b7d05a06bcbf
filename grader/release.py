"""`dockerlab release LAB OUT`: the learner's repository, ready to push as a GitHub
Classroom template — the lab's starters, apps, grader, docs, notebooks and CI workflow,
without any solution and without the lab's hidden checks, as a fresh git repository.

What ships is what git tracks in this checkout, less what only instructors may see or
need: the lab's solution folder, the other labs, the grader's own test suite (its
submissions are near-solutions) and benchmarks, the project's CI. Then two guards: no
shipped file has the content of any solution file (by sha256, whatever its name), and the
released lab.yml loads and has no hidden check.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ruamel.yaml import YAML

from grader.ci import write_github
from grader.errors import DockerlabError
from grader.paths import project_root
from grader.spec import LabSpec, load_lab

INSTRUCTORS_ONLY = ("tests", "benchmarks", ".ci")
AUTHOR = ["-c", "user.name=dockerlab release", "-c", "user.email=release@dockerlab.invalid"]


@dataclass(frozen=True)
class Release:
    folder: Path
    files: int
    hidden_removed: int
    solution_files: int  # how many files the solution holds (none of them shipped)


def release(lab: LabSpec, out: Path) -> Release:
    root = project_root()
    if root is None:
        raise DockerlabError("A release is made from a checkout of the repository.",
                             hint="Run `dockerlab release` in the repository.")
    if out.exists() and any(out.iterdir()):
        raise DockerlabError(f"{out} is not empty.", hint="Give a new folder for the release.")
    lab_folder = lab.lab_dir.resolve().relative_to(root)
    solution = lab.solution_dir.resolve().relative_to(root)
    secrets = {sha256(path) for path in lab.solution_dir.rglob("*") if path.is_file()}
    shipped = [path for path in tracked_files(root) if ships(path, lab_folder, solution)]
    for relative in shipped:
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, target, follow_symlinks=False)
    spec_path = out / lab_folder / "lab.yml"
    hidden = without_hidden_checks(spec_path)
    write_github(lab, out)
    leaked = sorted(str(path.relative_to(out)) for path in out.rglob("*")
                    if path.is_file() and not path.is_symlink() and sha256(path) in secrets)
    if leaked:
        shutil.rmtree(out)
        raise DockerlabError(
            f"The release would hold the content of a solution file: {', '.join(leaked)}.",
            hint="A starter must differ from the solution; nothing was released.")
    released = load_lab(spec_path)  # and it still loads
    if any(check.hidden for exercise in released.exercises for check in exercise.all_checks()):
        shutil.rmtree(out)
        raise DockerlabError(f"{spec_path.name} still names a hidden check after the release "
                             "removed them; nothing was released.")
    commit(out, f"{lab.title}: the learner's repository (dockerlab release)")
    return Release(out, len(shipped) + 1, hidden, len(secrets))


def tracked_files(root: Path) -> list[PurePosixPath]:
    done = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True)
    return [PurePosixPath(name) for name in done.stdout.decode().split("\0") if name
            and (root / name).exists()]


def ships(path: PurePosixPath, lab_folder: Path, solution: Path) -> bool:
    parts = path.parts
    if parts[0] in INSTRUCTORS_ONLY:
        return False
    if parts[0] == "labs":
        return path.is_relative_to(lab_folder.as_posix()) and not path.is_relative_to(
            solution.as_posix())
    return True


def without_hidden_checks(spec_path: Path) -> int:
    """Remove every `hidden: true` check from the lab spec, keeping its comments and layout;
    how many were removed."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)  # the lab specs' own layout
    spec = yaml.load(spec_path.read_text(encoding="utf-8"))
    removed = 0
    for exercise in spec.get("exercises") or []:
        checks = exercise.get("checks") or []
        for index in reversed(range(len(checks))):  # del keeps the other items' comments
            if checks[index].get("hidden"):
                del checks[index]
                removed += 1
    if removed:  # else the file stays byte for byte the instructor's
        text = io.StringIO()
        yaml.dump(spec, text)
        spec_path.write_text(text.getvalue(), encoding="utf-8")
    return removed


def commit(folder: Path, message: str) -> None:
    for command in (["init", "--quiet", "--initial-branch=main"], ["add", "--all"],
                    [*AUTHOR, "commit", "--quiet", "--message", message]):
        subprocess.run(["git", *command], cwd=folder, check=True, capture_output=True)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
