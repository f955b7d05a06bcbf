"""Reading the classic builder's log: which steps ran, which came from cache, what they made.

The docker SDK's build API drives the classic builder (on Docker Desktop too), whose stream
says `Step n/m : ...`, ` ---> Using cache`, ` ---> Running in <container>` and, when a step
is done, ` ---> <image>`. Both the grader's sandbox and the base-image builds read it here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

STEP_LINE = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
RUNNING_IN = re.compile(r"^ ---> Running in ([0-9a-f]{12,64})")
STEP_RESULT = re.compile(r"^ ---> ([0-9a-f]{12,64})$")
BUILD_DONE = re.compile(r"^Successfully (?:built|tagged) ")  # also when a --target ends early
PARSE_ERROR_LINE = re.compile(r"(parse error (?:on )?line )(\d+)", re.IGNORECASE)


@dataclass
class BuildStep:
    number: int
    total: int
    instruction: str  # as the builder printed it, e.g. "RUN go build -o /server"
    cached: bool = False
    output: list[str] = field(default_factory=list)
    container: str | None = None  # while the step runs in one
    result_id: str | None = None  # the image the step left

    @property
    def created_image(self) -> str | None:
        """The image this step made (not reused from cache, not the FROM base)."""
        if self.cached or self.instruction.upper().startswith("FROM "):
            return None
        return self.result_id


def follow_step(line: str, steps: list[BuildStep]) -> None:
    """Add one line of the build stream to the steps read so far."""
    step = STEP_LINE.match(line)
    if step:
        steps.append(BuildStep(int(step[1]), int(step[2]), step[3].strip()))
        return
    if not steps:
        return
    current = steps[-1]
    if line.strip() == "---> Using cache":
        current.cached = True
    started = RUNNING_IN.match(line)
    if started:
        current.container = started[1]
    result = STEP_RESULT.match(line)
    if result:
        current.result_id, current.container = result[1], None
    current.output.append(line)


def created_images(steps: list[BuildStep]) -> list[str]:
    """The images a build's own steps made, in build order (every stage's, not the final's only)."""
    return [step.created_image for step in steps if step.created_image]


def without_added_first_line(steps: list[BuildStep], error: str) -> tuple[list[BuildStep], str]:
    """The steps and error of a build whose Dockerfile got one line added before the learner's
    first instruction, numbered as in the learner's own file."""
    for step in steps[1:]:
        step.number -= 1
        step.total -= 1
    error = PARSE_ERROR_LINE.sub(lambda found: f"{found[1]}{int(found[2]) - 1}", error)
    return steps[1:], error
