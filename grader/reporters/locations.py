"""A finding's file as CI servers look it up: relative to the repository root.

GitHub places an annotation (and GitHub Classroom, GitLab and Jenkins link a test case) by a
path from the repository root, whatever folder the grader ran in and whatever `--path` named.

A `Location`'s file is not that path. The pipeline names it as the learner knows it
(`grader/pipeline/steps/parse.py` `shown_path`): relative to the folder the grader runs in
when the file lies inside it, else absolute. A result built by hand (tests, tools) names it
relative to the submission, as `grader.results.Location` documents. Joining such a path to
the submission again doubled the submission folder
(`labs/lab4/labs/lab4/lab/Dockerfile`), so `source_file` first finds the file it means.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping


def repository_root(submission: str, environ: Mapping[str, str] | None = None) -> str:
    """Where paths are counted from: $GITHUB_WORKSPACE when set (the checkout GitHub reads),
    else the git top-level of the submission (the nearest folder up holding `.git`), else
    the current folder."""
    environ = os.environ if environ is None else environ
    if environ.get("GITHUB_WORKSPACE"):
        return os.path.abspath(environ["GITHUB_WORKSPACE"])
    folder = os.path.realpath(submission)
    while True:
        if os.path.exists(os.path.join(folder, ".git")):  # a folder, or a worktree's file
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return os.getcwd()
        folder = parent


def source_file(submission: str, file: str) -> str:
    """The absolute path of a location's `file`: as given when absolute; else, of the current
    folder and the submission, the one the file exists under, inside the submission first
    (the pipeline reads Dockerfiles only there); else under the submission."""
    if os.path.isabs(file):
        return os.path.normpath(file)
    submission = os.path.abspath(submission)
    candidates = [os.path.abspath(file), os.path.normpath(os.path.join(submission, file))]
    existing = [path for path in candidates if os.path.exists(path)]
    inside = [path for path in existing if is_inside(path, submission)]
    return (inside or existing or candidates[1:])[0]


def repository_path(submission: str, file: str, root: str) -> str:
    """`file` (a location's) relative to the repository `root`, with `/` separators; a file
    outside the root keeps its absolute path (no CI can place it; a reader still finds it)."""
    path = source_file(submission, file)
    real = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
    for candidate, base in ((path, os.path.abspath(root)), (real, os.path.realpath(root))):
        if is_inside(candidate, base):
            return os.path.relpath(candidate, base).replace(os.sep, posixpath.sep)
    return path.replace(os.sep, posixpath.sep)


def is_inside(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([path, folder]) == folder
    except ValueError:  # another drive (Windows)
        return False
