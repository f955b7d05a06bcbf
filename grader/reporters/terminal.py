"""The report a person reads in a terminal or a CI log, and the live progress shown while grading.

Learner text (what, fix, build logs) is always wrapped in `Text`, never parsed as rich markup:
Maven's `[INFO]` or a Dockerfile's `:latest` must print as written.
"""

from __future__ import annotations

import io

from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.status import Status as Spinner
from rich.table import Table
from rich.text import Text

from grader.reporters.formatting import (
    check_label,
    clean_text,
    explanation_fields,
    number,
    omitted_note,
    score_line,
    tail_lines,
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
WIDTH = 100


def render(result: LabResult, *, color: bool = False) -> str:
    """The report as a string: plain text unless `color` asks for ANSI styles."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=WIDTH,
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


def print_report(result: LabResult, console: Console) -> None:
    """Print the report on `console` (the CLI passes its own, so colour follows the terminal)."""
    heading = (f"{result.lab} — {result.title}", "bold")
    console.print(Text.assemble(heading, (f"  ({result.submission})", "dim")))
    for exercise in result.exercises:
        console.print()
        console.print(exercise_table(exercise))
        for check in exercise.checks:
            if check.status is Status.FAILED:
                console.print(failure_block(check))
        for note in notes(exercise):
            console.print(note)
    console.print()
    console.print(Text(score_line(result), style="bold green" if result.passed else "bold red"))
    console.print(Text(result.summary_line()))


def exercise_table(exercise: ExerciseResult) -> Table:
    table = Table(
        title=Text(f"{exercise.id} — {exercise.title}", style="bold"),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        caption=Text(f"{number(exercise.points)}/{number(exercise.max_points)} points"),
        caption_justify="right",
    )
    table.add_column("", width=1)
    table.add_column("Rule", no_wrap=True)
    table.add_column("Check", ratio=1)
    table.add_column("Points", justify="right", no_wrap=True)
    for check in exercise.checks:
        style = "dim" if check.status is Status.ADVICE else ""
        points = f"{number(check.points)}/{number(check.max_points)}"
        if check.status is Status.ADVICE:
            points = "advice"
        table.add_row(
            Text(ICONS[check.status], style=STYLES[check.status]),
            Text(check.rule_id, style=style),
            Text(clean_text(check.title), style=style),
            Text(points, style=style),
        )
    return table


def failure_block(check: CheckResult) -> RenderableType:
    heading = Text(f"{ICONS[Status.FAILED]} {check_label(check)}", style="bold red")
    return indented(Group(heading, *field_lines(check, "")))


def field_lines(check: CheckResult, style: str) -> list[Text]:
    width = max(len(label) for label, _ in explanation_fields(check))
    label_style = style or "bold"
    lines = [
        Text.assemble((f"  {label + ':':<{width + 1}} ", label_style), (value, style))
        for label, value in explanation_fields(check)
    ]
    if check.details:
        shown, omitted = tail_lines(check.details, DETAIL_LINES)
        lines.append(Text(f"  details{omitted_note(shown, omitted)}:", style=label_style))
        lines += [Text(f"      {line}", style="dim") for line in shown]
    return lines


def notes(exercise: ExerciseResult) -> list[RenderableType]:
    """Advice (dimmed, unscored) and skipped checks with the reason they could not run."""
    rendered: list[RenderableType] = []
    for check in exercise.checks:
        if check.status is Status.ADVICE:
            heading = Text(f"{ICONS[Status.ADVICE]} advice {check_label(check)}", style="dim")
            block = Group(heading, *field_lines(check, "dim"))
            rendered.append(indented(block))
        elif check.status is Status.SKIPPED:
            line = Text.assemble(
                (f"{ICONS[Status.SKIPPED]} skipped {check_label(check)}", STYLES[Status.SKIPPED]),
                (f" — {clean_text(check.what)}" if check.what else "", ""),
            )
            rendered.append(indented(line))
    return rendered


def indented(renderable: RenderableType) -> Padding:
    """A block under its exercise table: one blank line above, two spaces in."""
    return Padding(renderable, (1, 0, 0, 2), expand=False)


def progress_line(check: CheckResult) -> Text:
    """'✔ ML4-SIZE image-gallery: final image ≤ 30 MB (final image is 8.4 MB)' on one line."""
    return Text.assemble(
        (ICONS[check.status], STYLES[check.status]),
        f" {check_label(check)}",
        (f" ({clean_text(check.what)})" if check.what else "", "dim"),
    )


class LiveProgress:
    """What the grader shows while it works: a line per finished check, and on a terminal a
    spinner with the latest build-log line that disappears when done.

    `quiet` shows nothing (grader errors are the CLI's to print); `verbose` prints every
    build-log line (the only way to see them when the output is not a terminal, e.g. a CI log).
    """

    def __init__(self, console: Console, quiet: bool, verbose: bool = False):
        self.console = console
        self.quiet = quiet
        self.verbose = verbose
        self.interactive = console.is_terminal and not console.is_dumb_terminal
        self.exercise_id = ""
        self.spinner: Spinner | None = None

    def exercise_started(self, exercise_id: str, title: str) -> None:
        self.exercise_id = exercise_id
        if self.quiet:
            return
        self.console.print(Text(f"▸ {exercise_id} — {title}", style="bold"))
        self.show_activity(f"grading {exercise_id}…")

    def line(self, text: str) -> None:
        """One line of build or container output."""
        if self.quiet:
            return
        text = clean_text(text).rstrip()
        if self.verbose:
            self.console.print(Text(f"  {text}", style="dim"), soft_wrap=True)
        elif self.interactive and text:
            self.show_activity(f"{self.exercise_id}: {text}")

    def check_done(self, check: CheckResult) -> None:
        if self.quiet:
            return
        if self.interactive:  # one screen line; the report repeats the full text
            self.console.print(progress_line(check), no_wrap=True, overflow="ellipsis")
        else:  # one log line, however long: CI logs wrap for themselves
            self.console.print(progress_line(check), soft_wrap=True)

    def close(self) -> None:
        if self.spinner is not None:
            self.spinner.stop()
            self.spinner = None

    def show_activity(self, text: str) -> None:
        """Update the transient spinner line; plain output (pipes, CI logs) gets none."""
        if not self.interactive:
            return
        status = Text(text)
        status.truncate(self.console.width - 3, overflow="ellipsis")  # room for the spinner
        if self.spinner is None:
            self.spinner = Spinner(status, console=self.console)
            self.spinner.start()
        else:
            self.spinner.update(status)

    def __enter__(self) -> LiveProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
