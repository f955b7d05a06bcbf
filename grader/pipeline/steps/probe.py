"""Step `probe`: the cache probe of the chapter's 4.5. A throw-away copy of the build
context gets one file changed, then is rebuilt through the same cache; the rebuild stops
as soon as its log has said whether the step of interest came from the cache."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from grader.engine import BuildOutcome, BuildStep
from grader.pipeline.facts import Need, Phase
from grader.pipeline.steps.build import IMAGE, build_request

if TYPE_CHECKING:
    from grader.pipeline.job import ExerciseJob


@dataclass(frozen=True)
class ProbeFacts:
    rebuilt: BuildOutcome | None  # None: the context has no such file to change
    target: BuildStep | None  # the first step running what the pattern matches


@dataclass(frozen=True)
class CacheProbe(Need):
    change: str  # file to change, relative to the build context
    step: str  # regex for the step of interest

    phase: ClassVar[Phase] = Phase.CACHE
    costly: ClassVar[bool] = True  # a rebuild (a Java probe re-runs `mvn package`)

    def requires(self, job: ExerciseJob) -> tuple[Need, ...]:
        return (IMAGE,)

    def provide(self, job: ExerciseJob) -> ProbeFacts:
        context_dir = job.facts.context_dir
        if not (context_dir / self.change).is_file():
            return ProbeFacts(None, None)
        pattern = re.compile(self.step)
        with tempfile.TemporaryDirectory(prefix="dockerlab-cache-") as scratch:
            copy = Path(scratch) / "context"
            # Links stay links (never followed out of the context), and FIFOs, sockets and
            # devices are left out: reading a FIFO would block, and the builder sends none.
            shutil.copytree(context_dir, copy, symlinks=True, ignore=special_files)
            changed_file = (copy / self.change).resolve()
            if not (changed_file.is_relative_to(copy.resolve()) and changed_file.is_file()):
                # A link to a file outside: appending would write to the grader's host.
                return ProbeFacts(None, None)
            with changed_file.open("a") as changed:
                changed.write(unique_blank_line())
            request = build_request(
                job,
                job.facts.dockerfile,
                context_dir=copy,
                tag=f"dockerlab-cache-probe:{job.sandbox.session}-{job.exercise.id}",
                labels={},
                no_cache=False,
            )
            with job.build_slot:
                rebuilt = job.sandbox.build(
                    request,
                    throwaway=True,
                    # Once the step is seen cached or running, the rest adds nothing.
                    stop_when=lambda steps: is_decided(step_running(steps, pattern), steps),
                )
        return ProbeFacts(rebuilt, step_running(rebuilt.steps, pattern))

    def evidence(self, value: ProbeFacts) -> dict[str, str]:
        return {"build": "\n".join(value.rebuilt.log)} if value.rebuilt else {}


def step_running(steps: list[BuildStep], pattern: re.Pattern) -> BuildStep | None:
    """The first step whose instruction runs what `pattern` matches."""
    return next((step for step in steps if pattern.search(step.instruction)), None)


def is_decided(target: BuildStep | None, steps: list[BuildStep]) -> bool:
    """Whether the log has said if `target` came from cache: it did (`Using cache`), or it
    started a container, or a later step began."""
    return target is not None and (
        target.cached or target.container is not None or target is not steps[-1]
    )


def unique_blank_line() -> str:
    """A line of spaces and tabs no earlier probe wrote: harmless in source, HTML, JSON and XML
    alike, and new to the build cache, which may still hold the layers of an earlier probe."""
    bits = secrets.randbits(32)
    return "\n" + "".join(" \t"[(bits >> shift) & 1] for shift in range(32)) + "\n"


def special_files(folder: str, names: list[str]) -> set[str]:
    """The entries of `folder` that are neither files, folders nor links (for copytree)."""
    special = set()
    for name in names:
        mode = os.lstat(os.path.join(folder, name)).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
            special.add(name)
    return special
