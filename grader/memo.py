"""Outcomes that depend only on an image's ID, remembered across runs.

An image ID is a content hash of the image's layers and config (Dockerfile lines included),
so checks whose costly needs read nothing else (the layer scan, the cache probe) give the same
verdict for the same ID. Remembering them keeps a second `make grade` with no change fast.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict

from grader.paths import cache_dir
from grader.results import Location, Outcome

FORMAT = 3  # bump when Outcome's fields change


def remembered(key: dict, compute: Callable[[], Outcome]) -> Outcome:
    """The outcome remembered for `key`, else `compute()`'s, remembered (an exception from
    `compute` leaves nothing behind)."""
    digest = hashlib.sha256(json.dumps([FORMAT, key], sort_keys=True).encode()).hexdigest()
    path = cache_dir() / "outcomes" / f"{digest}.json"
    try:
        data = json.loads(path.read_text())
        location = data.pop("location")
        return Outcome(**data, location=Location(**location) if location else None)
    except (OSError, ValueError, TypeError):
        pass  # not remembered yet, or unreadable: compute it again
    outcome = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(outcome)))
    return outcome
