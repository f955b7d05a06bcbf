"""ML4-BUILD: the learner's Dockerfile builds, through the engine's build cache.

Not written in a `checks:` list: every exercise has one, configured by its `build:` key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar, Literal

from grader.checks.base import Check
from grader.dockerfile import heredoc_line
from grader.engine.build import Bound, LimitHit
from grader.pipeline.facts import Need
from grader.pipeline.steps.build import BUILD, BuildFacts
from grader.results import Outcome

if TYPE_CHECKING:
    from grader.pipeline.facts import Facts

LOG_TAIL = 15
PARSE_ERROR_LINE = re.compile(r"line (\d+)", re.IGNORECASE)


class BuildCheck(Check):
    kind: Literal["build"] = "build"

    rule_id: ClassVar[str] = "ML4-BUILD"

    def describe(self) -> str:
        return "the image builds"

    def needs(self) -> tuple[Need, ...]:
        return (BUILD,)

    def judge(self, facts: Facts) -> Outcome:
        build: BuildFacts = facts[BUILD]
        if facts.dockerfile.refused:
            return Outcome(
                False,
                f"{facts.dockerfile.refused} So it was not built.",
                fix=facts.dockerfile.refused_fix,
                location=facts.at_line(None),
            )
        if not facts.dockerfile.exists:
            return Outcome(
                False,
                f"There is no Dockerfile at {facts.dockerfile_display}.",
                fix=f"Create {facts.dockerfile_display} (the lab README says what it needs).",
                location=facts.at_line(None),
            )
        if build.outcome is None:
            return Outcome(
                False,
                f"The build context {facts.context_dir} does not exist.",
                fix="Restore the app folder from the lab repository (git checkout -- apps).",
            )
        outcome = build.outcome
        if outcome.ok:
            return Outcome(
                True,
                f"Built {build.tag} in {outcome.duration_s:.1f} s "
                f"({outcome.cached_steps} of {len(outcome.steps)} steps from cache).",
            )
        return explain_failure(facts, build)


def explain_failure(facts: Facts, build: BuildFacts) -> Outcome:
    outcome = build.outcome
    step = outcome.failing_step
    if outcome.limit_hit is not None:
        return explain_limit(facts, build, outcome.limit_hit)
    if outcome.timed_out:
        return Outcome(
            False,
            f"The build was stopped after {build.timeout_s:.0f} s"
            + (f" during step {step.number}/{step.total} `{step.instruction}`." if step else "."),
            fix="Look for a command that waits for input or downloads forever; "
            f"a build must finish on its own (this lab allows {build.timeout_s:.0f} s: "
            "`build.timeout_s`).",
            location=facts.step_location(step),
            details=with_unlimited(tail(step.output if step else outcome.log), outcome.unlimited),
        )
    if step is None:
        # Rejected before the first step: a parse error names its line.
        found = PARSE_ERROR_LINE.search(outcome.error)
        heredoc = heredoc_line(facts.dockerfile.text)
        if heredoc is not None:
            return Outcome(
                False,
                f"Line {heredoc} starts a heredoc (`<<`), which only BuildKit reads; the "
                "grader builds with Docker's classic builder, which takes the lines after it "
                f"for instructions ({outcome.error}).",
                fix="Write the commands on the instruction's own line, joined with `&&` and "
                "continued with `\\` at the end of a line, e.g. "
                "`RUN go build -o /out/server . && go test ./...`.",
                location=facts.at_line(heredoc),
            )
        return Outcome(
            False,
            f"Docker rejected the Dockerfile: {outcome.error}",
            fix="Fix the instruction on that line; every line starts with a Dockerfile "
            "instruction (FROM, RUN, COPY, ...), and continuation lines end with `\\`.",
            location=facts.at_line(int(found[1]) if found else None),
        )
    ran = step.instruction.upper().startswith("RUN ")
    return Outcome(
        False,
        f"Step {step.number}/{step.total} `{step.instruction}` failed: {outcome.error}",
        fix=fix_for(step.instruction, outcome.error, facts),
        location=facts.step_location(step),
        details=with_unlimited(tail(step.output), outcome.unlimited if ran else ""),
    )


def explain_limit(facts: Facts, build: BuildFacts, hit: LimitHit) -> Outcome:
    """A build that ran into one of the lab's limits (`build:` keys), naming its figure."""
    if hit.bound is Bound.CONTEXT_FILES:
        return Outcome(
            False,
            f"The build context {facts.context_dir} holds more than {hit.limit:,} files and "
            f"folders (after .dockerignore), more than a build may send "
            f"(`build.context_files`: {hit.limit:,}), so it was not built.",
            fix=CONTEXT_FIX,
        )
    if hit.bound is Bound.CONTEXT_SIZE:
        return Outcome(
            False,
            f"The build context {facts.context_dir} holds {hit.measured:,} MiB of files (after "
            f".dockerignore), more than a build may send (`build.context_mb`: "
            f"{hit.limit:,} MiB), so it was not built.",
            fix=CONTEXT_FIX,
        )
    step = build.outcome.failing_step
    where = f"Step {step.number}/{step.total} `{step.instruction}`"
    if hit.bound is Bound.MEMORY:
        return Outcome(
            False,
            f"{where} was stopped: it needed more than the {hit.limit:,} MB of memory a build "
            f"step may use (`build.memory_mb`), and the engine killed it (exit code 137).",
            fix="Find what in this step takes that much memory (a loop that keeps allocating, "
            "a large file read whole) and make it take less; the same command run by hand "
            f"with `docker run --memory {hit.limit}m` shows it.",
            location=facts.step_location(step),
            details=tail(step.output),
        )
    return Outcome(
        False,
        f"{where} failed: its processes reached the {hit.limit:,} processes and threads a "
        f"build's steps may run at once (`build.pids`), so it could not start more "
        f"({build.outcome.error}).",
        fix="A step that starts programs in a loop, or in the background (`&`) without "
        "waiting for them, runs into this limit; start what the build needs one after another.",
        location=facts.step_location(step),
        details=tail(step.output),
    )


CONTEXT_FIX = (
    "Leave out of the build context what the image does not need, with a .dockerignore "
    "beside your Dockerfile (e.g. `.git/`, `node_modules/`, `target/`, large data files)."
)


def with_unlimited(details: str, unlimited: str) -> str:
    """The details, and the limit this engine could not give build steps, when it matters."""
    return "\n".join(part for part in (details, f"(The build's steps ran with {unlimited}.)"
                                        if unlimited else "") if part)


def fix_for(instruction: str, error: str, facts: Facts) -> str:
    keyword = instruction.split(maxsplit=1)[0].upper() if instruction else ""
    if keyword in ("COPY", "ADD") and any(
        sign in error for sign in ("not found", "no such file", "does not exist")
    ):
        return (
            f"Paths in COPY are relative to the build context ({facts.context_dir.name}/), "
            "or to the stage named in --from; check the spelling and that the earlier stage "
            "really wrote that file."
        )
    if keyword == "RUN":
        return (
            "Read the command's output above: a failing unit test, a compile error or a "
            "missing tool in this stage's base image all stop the build here. Run the same "
            "command in that stage's image to try it: "
            "`docker run --rm -it <base image> sh`."
        )
    if keyword == "FROM":
        return "Check the image name and tag; the lab's base images are diamol/* (see `dockerlab images`)."
    return "Fix this instruction; `docker build` shows the same error by hand."


def tail(lines: Iterable[str], count: int = LOG_TAIL) -> str:
    return "\n".join(line for line in list(lines)[-count:] if line.strip())
