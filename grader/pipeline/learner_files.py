"""Reading a file of a submission safely: only a regular file inside the folder it belongs to,
and only up to a size and a line cap.

A learner's file may be a symbolic link to the grader's host (`/etc/passwd`,
`/proc/self/environ`), a FIFO that never ends, a device, or simply huge. Each is refused with
a reason that names the file as the learner knows it and the bound, never its content nor
where a link points. See docs/reference/bounds.md.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

DOCKERFILE_MAX_BYTES = 256 * 1024
DOCKERIGNORE_MAX_BYTES = 64 * 1024
MAX_LINES = 5_000
READ_CHUNK = 64 * 1024


class RefusedFile(Exception):
    """A file the grader will not read: `reason` says what and where, `fix` what to do."""

    def __init__(self, reason: str, fix: str):
        super().__init__(reason)
        self.reason = reason
        self.fix = fix


@dataclass(frozen=True)
class FileBounds:
    max_bytes: int
    max_lines: int = MAX_LINES


DOCKERFILE_BOUNDS = FileBounds(DOCKERFILE_MAX_BYTES)
DOCKERIGNORE_BOUNDS = FileBounds(DOCKERIGNORE_MAX_BYTES)


def read_inside(path: Path, root: Path, bounds: FileBounds, shown: str,
                owner: str = "your submission") -> bytes | None:
    """The bytes of `path`, a regular file inside `root`; None when there is no such file.

    Raises RefusedFile for a link (or a path) leading out of `root`, anything that is not a
    regular file, and a file over `bounds`. `shown` names the file in the reason; `owner` names
    `root` ("your submission", "the lab folder").
    """
    try:
        link = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise refused_unreadable(shown, error) from None
    inside = root.resolve()
    target = path.resolve()
    if not target.is_relative_to(inside):
        what = "a symbolic link to a file" if stat.S_ISLNK(link.st_mode) else "a file"
        raise RefusedFile(
            f"{shown} is {what} outside {owner}; the grader reads only files inside it.",
            f"Replace {shown} with a regular file inside {owner} (not a link to one elsewhere).",
        )
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(target, flags)
    except FileNotFoundError:
        return None  # a link inside to nothing: like no file
    except OSError as error:
        if error.errno == errno.ELOOP:  # the resolved path became a link since: refuse
            raise RefusedFile(
                f"{shown} changed into a symbolic link while the grader read it.",
                f"Make {shown} a regular file and grade again.",
            ) from None
        raise refused_unreadable(shown, error) from None
    try:
        return read_bounded(descriptor, shown, bounds)
    finally:
        os.close(descriptor)


def read_bounded(descriptor: int, shown: str, bounds: FileBounds) -> bytes:
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        raise RefusedFile(
            f"{shown} is {file_kind(status.st_mode)}, not a regular file; the grader reads only "
            "regular files.",
            f"Replace {shown} with a regular text file.",
        )
    if status.st_size > bounds.max_bytes:
        raise too_large(shown, status.st_size, bounds)
    os.set_blocking(descriptor, True)
    chunks, size = [], 0
    while size <= bounds.max_bytes:  # at most max_bytes + 1: a file growing (or /proc) stops here
        chunk = os.read(descriptor, min(READ_CHUNK, bounds.max_bytes + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    data = b"".join(chunks)
    if len(data) > bounds.max_bytes:
        raise too_large(shown, None, bounds)
    lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    if lines > bounds.max_lines:
        raise RefusedFile(
            f"{shown} has {lines:,} lines; the grader reads files of at most "
            f"{bounds.max_lines:,} lines.",
            f"Shorten {shown}; the files of this lab need far fewer lines.",
        )
    return data


def too_large(shown: str, size: int | None, bounds: FileBounds) -> RefusedFile:
    figure = f"{size:,} bytes" if size is not None else "larger than that"
    return RefusedFile(
        f"{shown} is {figure}; the grader reads files of at most {bounds.max_bytes:,} bytes "
        f"({bounds.max_bytes // 1024:,} KiB).",
        f"Shorten {shown}; the files of this lab need far less.",
    )


def refused_unreadable(shown: str, error: OSError) -> RefusedFile:
    return RefusedFile(
        f"{shown} could not be read ({error.strerror or 'error'}).",
        f"Make {shown} a regular file the grader's user can read.",
    )


def file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"
