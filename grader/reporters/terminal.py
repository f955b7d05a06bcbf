"""The report a person reads in a terminal or a CI log, and the live progress shown while grading.

Learner text (what, fix, build logs) is always wrapped in `Text`, never parsed as rich markup:
Maven's `[INFO]` or a Dockerfile's `:latest` must print as written.
"""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Callable

from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.status import Status as Spinner
from rich.table import Table
from rich.text import Text

from grader.engine.buildlog import BUILD_DONE, BuildStep, follow_step
from grader.reporters.formatting import (
    check_label,
    clean_text,
    exercise_verdict,
    explanation_fields,
    number,
    omitted_note,
    score_line,
    tail_lines,
    verdict_lines,
)
from grader.results import CheckResult, ExerciseResult, LabResult, Status

ICONS = {Status.PASSED: "✔", Status.FAILED: "✘", Status.SKIPPED: "–", Status.ADVICE: "i"}
STYLES = {
    Status.PASSED: "green",
    Status.FAILED: "red",
    Status.SKIPPED: "yellow",
    Status.ADVICE: "dim",
}
DETAIL_LINES = 12  # a terminal block shows the end of a build log, where the error is
DEFAULT_WIDTH = 80  # stdout is no terminal (a pipe, a CI log) and COLUMNS is not set: rich's
MIN_WIDTH = 40  # narrower, the table has no room left for the check's title
NARROW_WIDTH = 60  # narrower, the rule ID leads the check's cell instead of having a column
MAX_WIDTH = 120  # wider, a message is one line too long to read


def render(result: LabResult, *, color: bool = False, width: int | None = None) -> str:
    """The report as a string, `width` columns wide (by default the terminal's: see
    `report_width`): plain text unless `color` asks for ANSI styles."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width or report_width(),
        force_terminal=color,
        no_color=not color,
        highlight=False,
        emoji=False,
    )
    print_report(result, console)
    if color:
        return buffer.getvalue()
    # Table cells and padding are filled out with spaces; plain text should not carry them.
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


def report_width() -> int:
    """The width of the terminal stdout shows (the report goes there): COLUMNS when set, e.g.
    in a CI log, else the terminal's, else DEFAULT_WIDTH; kept within MIN_WIDTH..MAX_WIDTH."""
    columns = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    return max(MIN_WIDTH, min(columns, MAX_WIDTH))


def print_report(result: LabResult, console: Console) -> None:
    """Print the report on `console` (the CLI passes its own, so colour follows the terminal)."""
    heading = (f"{result.lab} — {result.title}", "bold")
    console.print(Text.assemble(heading, (f"  ({result.submission})", "dim")))
    for exercise in result.exercises:
        console.print()
        console.print(exercise_table(exercise, narrow=console.width < NARROW_WIDTH))
        if not result.exercise_passed(exercise):
            console.print(Text(f"  {exercise.id} {exercise_verdict(result, exercise)}",
                               style="bold red"))
        for check in exercise.checks:
            if check.status is Status.FAILED:
                console.print(failure_block(check))
        for note in notes(exercise):
            console.print(note)
    console.print()
    head, *_ = verdict_lines(result)
    console.print(Text(head, style="bold green" if result.passed else "bold red"))
    for reason in result.verdict_reasons:  # wrapped lines stay under the reason, past its dash
        console.print(Padding(hanging(Text(f"- {clean_text(reason)}", style="red")), (0, 0, 0, 2)))
    console.print(Text(score_line(result), style="bold green" if result.passed else "bold red"))
    console.print(Text(result.summary_line()))


def exercise_table(exercise: ExerciseResult, narrow: bool = False) -> Table:
    """A row per check; the title wraps, the rule ID and the points stay on its first line."""
    table = Table(
        title=Text(f"{exercise.id} — {exercise.title}", style="bold"),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        caption=Text(f"{number(exercise.points)}/{number(exercise.max_points)} points"),
        caption_justify="right",
    )
    table.add_column("", width=1)
    if not narrow:
        table.add_column("Rule", no_wrap=True)
    table.add_column("Check", ratio=1)
    table.add_column("Points", justify="right", no_wrap=True)
    for check in exercise.checks:
        style = "dim" if check.status is Status.ADVICE else ""
        points = f"{number(check.points)}/{number(check.max_points)}"
        if check.status is Status.ADVICE:
            points = "advice"
        rule = Text(check.rule_id, style=style)
        title = Text.assemble((clean_text(check.title), style),
                              (" (required)" if check.required else "", "dim"))
        table.add_row(
            Text(ICONS[check.status], style=STYLES[check.status]),
            *([Text.assemble(rule, " ", title)] if narrow else [rule, title]),
            Text(points, style=style),
        )
    return table


def failure_block(check: CheckResult) -> RenderableType:
    heading = Text(f"{ICONS[Status.FAILED]} {check_label(check)}", style="bold red")
    return indented(Group(hanging(heading), *field_lines(check, "")))


def field_lines(check: CheckResult, style: str) -> list[RenderableType]:
    """'what: …', 'how to fix: …' as two columns, so a long value wraps under itself, then
    the end of the details (a build log), each wrapped line indented under the label."""
    label_style = style or "bold"
    fields = Table.grid(padding=(0, 1, 0, 0))
    fields.add_column(no_wrap=True)
    fields.add_column()
    for label, value in explanation_fields(check):
        fields.add_row(Text(f"{label}:", style=label_style), Text(value, style=style))
    lines: list[RenderableType] = [Padding(fields, (0, 0, 0, 2), expand=False)]
    if check.details:
        shown, omitted = tail_lines(check.details, DETAIL_LINES)
        lines.append(Text(f"  details{omitted_note(shown, omitted)}:", style=label_style))
        log = Text("\n".join(shown), style="dim")
        lines.append(Padding(log, (0, 0, 0, 6), expand=False))
    return lines


def notes(exercise: ExerciseResult) -> list[RenderableType]:
    """Advice (dimmed, unscored) and skipped checks with the reason they could not run."""
    rendered: list[RenderableType] = []
    for check in exercise.checks:
        if check.status is Status.ADVICE:
            heading = Text(f"{ICONS[Status.ADVICE]} advice {check_label(check)}", style="dim")
            block = Group(hanging(heading), *field_lines(check, "dim"))
            rendered.append(indented(block))
        elif check.status is Status.SKIPPED:
            line = Text.assemble(
                (f"{ICONS[Status.SKIPPED]} skipped {check_label(check)}", STYLES[Status.SKIPPED]),
                (f" — {clean_text(check.what)}" if check.what else "", ""),
                (" (required: a failed gate)" if check.failed_gate else "", STYLES[Status.FAILED]),
            )
            rendered.append(indented(hanging(line)))
    return rendered


def indented(renderable: RenderableType) -> Padding:
    """A block under its exercise table: one blank line above, two spaces in."""
    return Padding(renderable, (1, 0, 0, 2), expand=False)


def hanging(text: Text, indent: int = 2) -> Table:
    """A line led by an icon or a dash ('✘ ', '- '): when it wraps, the wrapped lines start
    under its text, not under the icon."""
    line = Table.grid()
    line.add_column(width=indent, no_wrap=True)
    line.add_column()
    line.add_row(text[:indent], text[indent:])
    return line


def progress_line(check: CheckResult) -> Text:
    """'✔ ML4-SIZE image-gallery: final image ≤ 30 MB (final image is 8.4 MB)' on one line."""
    return Text.assemble(
        (ICONS[check.status], STYLES[check.status]),
        f" {check_label(check)}",
        (f" ({clean_text(check.what)})" if check.what else "", "dim"),
    )


class LiveProgress:
    """What the grader shows while it works: a line per finished check, and on a terminal a
    spinner line saying what runs and for how long, which disappears when done:
    'lab · building step 3/9 `RUN go build -o /server .` · 12 s'.

    `quiet` shows nothing (grader errors are the CLI's to print); `verbose` prints every
    build-log line (the only way to see them when the output is not a terminal, e.g. a CI log).
    `clock` gives the seconds the spinner line counts (tests pass a fake one).
    """

    def __init__(self, console: Console, quiet: bool, verbose: bool = False,
                 clock: Callable[[], float] = time.monotonic):
        self.console = console
        self.quiet = quiet
        self.verbose = verbose
        self.interactive = console.is_terminal and not console.is_dumb_terminal
        self.clock = clock
        self.exercise_id = ""
        self.steps: list[BuildStep] = []  # the speaking exercise's build, read as buildlog does
        self.built = False
        self.doing = "starting"  # what the spinner line says when no build step runs
        self.since = clock()  # when the running step, or `doing`, began
        self.spinner: Spinner | None = None

    def exercise_started(self, exercise_id: str, title: str) -> None:
        self.exercise_id = exercise_id
        self.steps, self.built = [], False
        self.now_doing("starting")
        if self.quiet:
            return
        self.console.print(Text(f"▸ {exercise_id} — {title}", style="bold"))
        self.show_activity()

    def line(self, text: str) -> None:
        """One line of the build's output, as the classic builder writes it."""
        if self.quiet:
            return
        text = clean_text(text).rstrip()
        if self.verbose:
            self.console.print(Text(f"  {text}", style="dim"), soft_wrap=True)
        self.follow(text)
        self.show_activity()

    def follow(self, text: str) -> None:
        """A `Step n/m : …` line starts a step, `Successfully built …` ends the build; the lines
        between (`---> Running in 3b93…`, the step's own output) change nothing shown."""
        known = len(self.steps)
        follow_step(text, self.steps)
        if len(self.steps) > known:
            self.since = self.clock()
        elif BUILD_DONE.match(text):
            if not self.built:
                self.built = True
                self.now_doing("checking")
        elif not self.steps and self.doing != "building":
            self.now_doing("building")  # joined a build under way: its next step says which

    def running_step(self) -> BuildStep | None:
        return self.steps[-1] if self.steps and not self.built else None

    def now_doing(self, doing: str) -> None:
        self.doing, self.since = doing, self.clock()

    def activity(self) -> Text:
        """The spinner line, worked out at every redraw (rich's Live redraws it several times a
        second), so the seconds count on while a step prints nothing."""
        step = self.running_step()
        doing = self.doing
        if step is not None:
            doing = (f"using the cache for step {step.number}/{step.total}" if step.cached
                     else f"building step {step.number}/{step.total}")
            doing += f" `{step.instruction}`"
        shown = Text(f"{self.exercise_id} · {doing}")
        seconds = Text(f" · {elapsed(self.clock() - self.since)}", style="dim")
        # one screen line: the spinner's two cells, then the instruction cut short, not the time
        shown.truncate(max(self.console.width - 3 - seconds.cell_len, 1), overflow="ellipsis")
        return shown.append_text(seconds)

    def check_done(self, check: CheckResult) -> None:
        if self.quiet:
            return
        if self.running_step() is None:  # not while a build step runs: that goes on
            self.now_doing("checking")
        if self.interactive:  # one screen line; the report repeats the full text
            self.console.print(progress_line(check), no_wrap=True, overflow="ellipsis")
        else:  # one log line, however long: CI logs wrap for themselves
            self.console.print(progress_line(check), soft_wrap=True)

    def close(self) -> None:
        if self.spinner is not None:
            self.spinner.stop()
            self.spinner = None

    def show_activity(self) -> None:
        """Start the transient spinner line, which redraws itself; plain output (pipes, CI
        logs) gets none."""
        if not self.interactive or self.spinner is not None:
            return
        self.spinner = Spinner(ActivityLine(self), console=self.console)
        self.spinner.start()

    def __enter__(self) -> LiveProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ActivityLine:
    """The spinner's text: asked of the progress at every redraw, so it is never stale."""

    def __init__(self, progress: LiveProgress):
        self.progress = progress

    def __rich__(self) -> Text:
        return self.progress.activity()


def elapsed(seconds: float) -> str:
    """'12 s', '2 min 05 s'."""
    whole = int(seconds)
    return f"{whole} s" if whole < 60 else f"{whole // 60} min {whole % 60:02d} s"
