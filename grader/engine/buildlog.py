"""Reading the classic builder's log: which steps ran, which came from cache, what they made.

The docker SDK's build API drives the classic builder (on Docker Desktop too), whose stream
says `Step n/m : ...`, ` ---> Using cache`, ` ---> Running in <container>` and, when a step
is done, ` ---> <image>`. Both the grader's sandbox and the base-image builds read it here.

A build prints what its steps print, without end if a step wants (issue 9: a long log took
the grader to 1.6 GB), so what is kept is bounded: lines are cut at `LINE_MAX_CHARS`
(`LineReader`), the log keeps its head and its tail (`BoundedLog`), and a step keeps its last
`STEP_OUTPUT_LINES` lines while it is the last step.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

STEP_LINE = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
RUNNING_IN = re.compile(r"^ ---> Running in ([0-9a-f]{12,64})")
STEP_RESULT = re.compile(r"^ ---> ([0-9a-f]{12,64})$")
BUILD_DONE = re.compile(r"^Successfully (?:built|tagged) ")  # also when a --target ends early
PARSE_ERROR_LINE = re.compile(r"(parse error (?:on )?line )(\d+)", re.IGNORECASE)
# The builder wraps what a step writes to stderr in colours, and sends the closing reset
# after the line break: it begins the next line (as on a terminal), where it must not hide
# the builder's own words.
LEADING_COLOURS = re.compile(r"^(?:\x1b\[[0-9;]*m)+")

LINE_MAX_CHARS = 4096  # a compiler's or a test runner's line is far shorter
LOG_HEAD_LINES = 200  # the start: the steps that ran, the first warnings
LOG_TAIL_LINES = 1000  # the end: the failing step's last words, and the error,
LOG_TAIL_CHARS = 256 * 1024  # in at most so many lines and characters
STEP_OUTPUT_LINES = 50  # the verdict shows the failing step's last 15
# What splitlines() ends a line at, as the log was always read (a progress bar's \r too).
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


@dataclass
class BuildStep:
    number: int
    total: int
    instruction: str  # as the builder printed it, e.g. "RUN go build -o /server"
    cached: bool = False
    # Its last lines while it is the build's last step (the failing or stopped one, which
    # the verdict shows); emptied once the next step begins, so memory does not grow with
    # the number of steps.
    output: deque[str] = field(default_factory=lambda: deque(maxlen=STEP_OUTPUT_LINES))
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
    words = LEADING_COLOURS.sub("", line)
    step = STEP_LINE.match(words)
    if step:
        if steps:
            steps[-1].output.clear()
        steps.append(BuildStep(int(step[1]), int(step[2]), step[3].strip()))
        return
    if not steps:
        return
    current = steps[-1]
    if words.strip() == "---> Using cache":
        current.cached = True
    started = RUNNING_IN.match(words)
    if started:
        current.container = started[1]
    result = STEP_RESULT.match(words)
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


def cut(line: str, max_chars: int = LINE_MAX_CHARS) -> str:
    """One line, at most `max_chars` of it, saying how much was left out."""
    if len(line) <= max_chars:
        return line
    return line[:max_chars] + left_out_of_line(len(line) - max_chars)


def left_out_of_line(chars: int) -> str:
    return f" [... {chars:,} more characters left out]"


class LineReader:
    """The builder's stream cut into lines of at most `max_chars`. A chunk of the stream
    may end inside a line (a step's output comes in the pieces its container wrote, and the
    builder sends `Step n/m : ...` and its line break apart), so a line is joined across
    chunks; past `max_chars` the rest of it is only counted, so an endless line costs no
    memory. Linear in what it reads."""

    def __init__(self, max_chars: int = LINE_MAX_CHARS):
        self.max_chars = max_chars
        self._pieces: list[str] = []
        self._kept = 0
        self._dropped = 0

    def feed(self, text: str) -> list[str]:
        """The lines that `text` completes."""
        lines = []
        for piece in text.splitlines(keepends=True):
            if piece[-1] in LINE_BREAKS:
                self._add(piece.splitlines()[0])
                lines.append(self._take())
            else:
                self._add(piece)  # the stream's last piece: the line goes on in the next chunk
        return lines

    def rest(self) -> list[str]:
        """The last line, when the stream ended without a line break."""
        return [self._take()] if self._pieces or self._dropped else []

    def _add(self, piece: str) -> None:
        room = self.max_chars - self._kept
        if len(piece) > room:
            self._dropped += len(piece) - room
            piece = piece[:room]
        if piece:
            self._pieces.append(piece)
            self._kept += len(piece)

    def _take(self) -> str:
        line = "".join(self._pieces)
        if self._dropped:
            line += left_out_of_line(self._dropped)
        self._pieces, self._kept, self._dropped = [], 0, 0
        return line


class BoundedLog:
    """A build's log within a bound whatever the build prints: its first `head_lines` lines
    and its last lines, at most `tail_lines` of them and `tail_chars` characters, with one
    line between saying how many were left out. Each line is expected cut already
    (`LineReader`)."""

    def __init__(self, head_lines: int = LOG_HEAD_LINES, tail_lines: int = LOG_TAIL_LINES,
                 tail_chars: int = LOG_TAIL_CHARS):
        self.head_lines = head_lines
        self.tail_lines = tail_lines
        self.tail_chars = tail_chars
        self._head: list[str] = []
        self._tail: deque[str] = deque()
        self._tail_size = 0
        self.left_out = 0

    def append(self, line: str) -> None:
        if len(self._head) < self.head_lines:
            self._head.append(line)
            return
        self._tail.append(line)
        self._tail_size += len(line)
        while len(self._tail) > self.tail_lines or (self._tail_size > self.tail_chars
                                                    and len(self._tail) > 1):
            self._tail_size -= len(self._tail.popleft())
            self.left_out += 1

    def lines(self) -> list[str]:
        gap = [f"[... {self.left_out:,} lines of the build's output left out ...]"]
        return [*self._head, *(gap if self.left_out else []), *self._tail]
