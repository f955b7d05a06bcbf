"""One holder at a time per machine, through a lock file in the cache folder."""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from grader.paths import cache_dir


@contextmanager
def machine_lock(name: str, on_wait: Callable[[], None]) -> Iterator[None]:
    """Hold the lock file `name`; when another process holds it, say so through `on_wait`
    and wait until it lets go (the lock goes with the process, also when it is killed)."""
    with open(cache_dir() / name, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
