"""Writing the grader's own files (reports, gradebooks) so that none is ever seen half-written."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# mkstemp makes files only the owner may read; a report must get the mode a plain write
# gives (CI uploads it, an LMS reads it). The umask is read once, before any thread starts.
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder, renamed over it:
    a reader (CI, an LMS, a resumed batch) sees the old file or the new one, never a part,
    also when the grader is stopped while writing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(temporary, FILE_MODE)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
