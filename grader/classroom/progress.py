"""What `dockerlab batch` shows while it runs: on a terminal, one live line with a bar,
done / passed / errored / unchanged / remaining and an ETA; elsewhere (a CI log), one line
per learner as each finishes."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from grader.classroom.batch import BatchProgress, BatchSummary
from grader.classroom.records import LearnerRecord


class BatchDisplay(BatchProgress):
    def __init__(self, console: Console, lab_id: str, quiet: bool = False):
        self.console = console
        self.quiet = quiet
        self.lab_id = lab_id
        self.live = console.is_terminal and not console.is_dumb_terminal and not quiet
        self.bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"), TimeElapsedColumn(),
            TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False,
        )
        self.task = None

    def planned(self, learners: int) -> None:
        if self.live:
            self.bar.start()
            self.task = self.bar.add_task(f"batch {self.lab_id}", total=learners,
                                          counts=counts(BatchSummary(), learners))
        elif not self.quiet:
            self.console.print(f"batch {self.lab_id}: {learners} learner(s)", highlight=False)
        self.total = learners

    def finished(self, learner: str, record: LearnerRecord | None, summary: BatchSummary) -> None:
        done = summary.graded + summary.errored + summary.unchanged
        if self.live:
            self.bar.update(self.task, completed=done, counts=counts(summary, self.total))
        elif not self.quiet:
            self.console.print(f"[{done}/{self.total}] {learner}: {outcome(record)}",
                               highlight=False)

    def close(self) -> None:
        if self.live:
            self.bar.stop()


def outcome(record: LearnerRecord | None) -> str:
    if record is None:
        return "unchanged, not graded again"
    if not record.graded:
        return f"could not be graded: {record.error}"
    result = record.result
    verdict = "passed" if result["passed"] else "below the pass mark"
    return f"{result['percent']:.0f} %, {verdict} ({record.duration_s:.0f} s)"


def counts(summary: BatchSummary, total: int) -> str:
    remaining = total - summary.graded - summary.errored - summary.unchanged
    return (f"passed {summary.passed} · graded {summary.graded} · errored {summary.errored} · "
            f"unchanged {summary.unchanged} · remaining {remaining}")
