"""ML4-BUILD: the learner's Dockerfile builds, through the engine's build cache.

Not written in a `checks:` list: every exercise has one, configured by its `build:` key.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from grader.checks.base import Check, Phase
from grader.dockerfile import Dockerfile, heredoc_line, matches_step
from grader.results import Outcome

if TYPE_CHECKING:
    from grader.context import ExerciseContext

LOG_TAIL = 15
PARSE_ERROR_LINE = re.compile(r"line (\d+)", re.IGNORECASE)


class BuildCheck(Check):
    kind: Literal["build"] = "build"
    timeout_s: float = Field(900, gt=0)
    tag_prefix: str = ""
    no_cache: bool = False

    rule_id: ClassVar[str] = "ML4-BUILD"
    phase: ClassVar[Phase] = Phase.BUILD

    def describe(self) -> str:
        return "the image builds"

    def run(self, context: ExerciseContext, on_line=lambda _line: None) -> Outcome:
        path = context.dockerfile_path
        if not path.is_file():
            return Outcome(
                False,
                f"There is no Dockerfile at {context.dockerfile_display}.",
                fix=f"Create {context.dockerfile_display} (the lab README says what it needs).",
                location=context.at_line(None),
            )
        if not context.context_dir.is_dir():
            return Outcome(
                False,
                f"The build context {context.context_dir} does not exist.",
                fix="Restore the app folder from the lab repository (git checkout -- apps).",
            )
        spec = context.exercise.build
        tag = self.tag_prefix + context.exercise.image
        outcome = context.sandbox.build(
            context.context_dir,
            path,
            tag,
            build_args=spec.build_args,
            target=spec.target,
            timeout_s=self.timeout_s,
            labels={"dockerlab.lab": context.lab.id, "dockerlab.exercise": context.exercise.id},
            on_line=on_line,
            no_cache=self.no_cache,
        )
        context.build = outcome
        if outcome.ok:
            context.image = context.sandbox.image_facts(tag)
            return Outcome(
                True,
                f"Built {tag} in {outcome.duration_s:.1f} s "
                f"({outcome.cached_steps} of {len(outcome.steps)} steps from cache).",
            )
        return explain_failure(context, outcome)


def explain_failure(context: ExerciseContext, outcome) -> Outcome:
    step = outcome.failing_step
    if outcome.timed_out:
        where = step_line(context, step)
        return Outcome(
            False,
            f"The build was stopped after {context.exercise.build.timeout_s:.0f} s"
            + (f" during step {step.number}/{step.total} `{step.instruction}`." if step else "."),
            fix="Look for a command that waits for input or downloads forever; "
            "a build must finish on its own.",
            location=context.at_line(where),
            details=tail(step.output if step else outcome.log),
        )
    if step is None:
        # Rejected before the first step: a parse error names its line.
        found = PARSE_ERROR_LINE.search(outcome.error)
        heredoc = heredoc_line(context.dockerfile_path.read_text(errors="replace"))
        if heredoc is not None:
            return Outcome(
                False,
                f"Line {heredoc} starts a heredoc (`<<`), which only BuildKit reads; the "
                "grader builds with Docker's classic builder, which takes the lines after it "
                f"for instructions ({outcome.error}).",
                fix="Write the commands on the instruction's own line, joined with `&&` and "
                "continued with `\\` at the end of a line, e.g. "
                "`RUN go build -o /out/server . && go test ./...`.",
                location=context.at_line(heredoc),
            )
        return Outcome(
            False,
            f"Docker rejected the Dockerfile: {outcome.error}",
            fix="Fix the instruction on that line; every line starts with a Dockerfile "
            "instruction (FROM, RUN, COPY, ...), and continuation lines end with `\\`.",
            location=context.at_line(int(found[1]) if found else None),
        )
    where = step_line(context, step)
    return Outcome(
        False,
        f"Step {step.number}/{step.total} `{step.instruction}` failed: {outcome.error}",
        fix=fix_for(step.instruction, outcome.error, context),
        location=context.at_line(where),
        details=tail(step.output),
    )


def step_line(context: ExerciseContext, step) -> int | None:
    """The Dockerfile line of a build step, matched by its printed text in step order."""
    if step is None or context.dockerfile is None:
        return None
    return line_of_step(context.dockerfile, step.number, step.instruction)


def line_of_step(dockerfile: Dockerfile, number: int, printed: str) -> int | None:
    # The classic builder numbers every instruction, the ARGs before the first FROM too;
    # the printed text decides when the two disagree.
    steps = dockerfile.instructions
    if 0 < number <= len(steps) and matches_step(steps[number - 1], printed):
        return steps[number - 1].line
    matching = [ins for ins in steps if matches_step(ins, printed)]
    return matching[0].line if matching else None


def fix_for(instruction: str, error: str, context: ExerciseContext) -> str:
    keyword = instruction.split(maxsplit=1)[0].upper() if instruction else ""
    if keyword in ("COPY", "ADD") and any(
        sign in error for sign in ("not found", "no such file", "does not exist")
    ):
        return (
            f"Paths in COPY are relative to the build context ({context.context_dir.name}/), "
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


def tail(lines: list[str], count: int = LOG_TAIL) -> str:
    return "\n".join(line for line in lines[-count:] if line.strip())
