"""The options of one grading run: how to grade, not what (that is the lab spec)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class RunConfig:
    tag_prefix: str = ""  # keeps several graders' image tags apart
    # Before the learner's image tags only, not the reference's: a batch keeps learners'
    # images apart ("batch-alice-") while they share one reference image per exercise.
    learner_prefix: str = ""
    no_cache: bool = False  # build without the engine's build cache
    owner: str = "grader"  # the dockerlab.owner label of what the run creates
    instructor: bool = False  # also run the lab's hidden checks (the learner's run does not)
    # Builds and probes at once: they are CPU-bound, so one per core. Waiting for a
    # container to answer costs no core, so exercises otherwise proceed together.
    build_slots: int = max(1, os.cpu_count() or 1)
