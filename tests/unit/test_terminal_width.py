"""The terminal report fits the terminal's width, and the live progress line says what runs.

Read as a person reads them: line by line, at 60, 80 and 120 columns (and a narrow 45).
"""

from __future__ import annotations

import io
import os
import re
import time

import pytest
from rich.cells import cell_len
from rich.console import Console

from grader.reporters import render
from grader.reporters import terminal
from grader.reporters.formatting import clean_text, number
from grader.results import CheckResult, ExerciseResult, LabResult, Location, Status

WHAT = ("`COPY --from=builder / /` at line 7 brought /usr/bin/go, /usr/local/go/bin/gofmt and "
        "/usr/bin/gcc into the final image, so it ships the whole Go SDK (576.2 MB)")
FIX = ("Copy only the binary, `COPY --from=builder /server /server`, and build it with "
       "CGO_ENABLED=0 so that it needs no libc in a final stage FROM diamol/base.")
LONG_LOG_LINE = ("go: downloading github.com/some/really/long/module/path/that/keeps/going/on "
                 "v1.2.3-0.20230101000000-abcdef123456")
ROW_START = re.compile(r"^ (\S) {3}(\S+) ")  # a table row's first line: status, then rule ID


def check(rule_id: str, exercise: str, status: Status, points: float, max_points: float,
          title: str, **fields) -> CheckResult:
    return CheckResult(rule_id=rule_id, title=title, exercise=exercise, status=status,
                       points=points, max_points=max_points, **fields)


@pytest.fixture
def long_result() -> LabResult:
    """Long titles, long messages and a long log line, many checks, every status, the widest
    points ('12.5/12.5', 'advice') and a long rule ID."""
    lab = ExerciseResult("lab", "The lab: a Go web server built in one stage and shipped in a "
                         "tiny final image", "dockerlab/lab", [
        check("ML4-BUILD", "lab", Status.PASSED, 5, 5, "the image builds from the learner's "
              "own Dockerfile", what="built in 41 s", required=True),
        check("ML4-STAGES", "lab", Status.PASSED, 10, 10, "the Dockerfile is a multi-stage "
              "build with a builder stage and a final stage", what="2 stages", required=True),
        check("ML4-TOOLS", "lab", Status.FAILED, 0, 15, "the final image carries no build tool "
              "(go, gcc, make, mvn, npm)", what=WHAT, fix=FIX, required=True,
              location=Location("lab/Dockerfile", 7),
              details="Step 3/9 : RUN go build -o /server .\n" + LONG_LOG_LINE + "\nexit 1"),
        check("ML4-SIZE", "lab", Status.FAILED, 2.5, 10, "final image ≤ 30 MB",
              what="final image is 576.2 MB, over the 30 MB budget", fix="Use diamol/base.",
              location=Location("lab/Dockerfile", 6)),
        check("ML4-CACHE-ORDER", "lab", Status.PASSED, 12.5, 12.5, "go.mod and go.sum are "
              "copied and the modules downloaded before the source is copied",
              what="a source change reuses the download layer"),
        check("ML4-LINT", "lab", Status.ADVICE, 0, 0, "Dockerfile lint (hadolint) finds nothing "
              "to improve", what="DL3007: Using latest is prone to errors if the image will "
              "ever update. Pin the version explicitly to a release tag",
              location=Location("lab/Dockerfile", 1), fix="Pin a version tag."),
        check("ML4-HTTP", "lab", Status.SKIPPED, 0, 20, "GET / on port 80 answers 200 with the "
              "expected page within the readiness time-out",
              what="not checked: the image did not build (ML4-BUILD)"),
    ])
    many = ExerciseResult("many", "Many checks", "dockerlab/many", [
        check(f"ML4-R{n}", "many", Status.PASSED if n % 3 else Status.FAILED, 1 if n % 3 else 0,
              1, f"check {n} has a long title that says precisely what it verifies in the image",
              what=f"finding {n}")
        for n in range(12)
    ])
    return LabResult(lab="lab4", title="Multi-stage builds", submission="submissions/alice",
                     pass_mark=70, exercises=[lab, many], duration_s=97.4)


def points_text(check: CheckResult) -> str:
    if check.status is Status.ADVICE:
        return "advice"
    return f"{number(check.points)}/{number(check.max_points)}"


def sections(text: str, result: LabResult) -> list[list[str]]:
    """The report's lines cut at each exercise's heading ('lab — The lab: …')."""
    lines = text.splitlines()
    starts = [next(i for i, line in enumerate(lines) if line.startswith(f"{exercise.id} — "))
              for exercise in result.exercises]
    return [lines[start:end] for start, end in zip(starts, [*starts[1:], len(lines)], strict=True)]


def field_value(lines: list[str], label: str) -> tuple[str, list[str]]:
    """The value of the first '    label: …' field and the lines it took, wrapped lines
    included (those start with spaces up to the value's column)."""
    at = next(i for i, line in enumerate(lines) if line.startswith(f"    {label}:"))
    column = len(lines[at]) - len(lines[at][len(f"    {label}:"):].lstrip())
    taken = [lines[at]]
    for line in lines[at + 1:]:
        if not line.startswith(" " * column) or not line.strip():
            break
        taken.append(line)
    return " ".join(line[column:] for line in taken), taken


@pytest.mark.parametrize("width", [45, 60, 80, 120])
def test_every_check_keeps_its_points_on_its_own_line(long_result, width):
    text = terminal.render(long_result, width=width)
    for exercise, lines in zip(long_result.exercises, sections(text, long_result), strict=True):
        rows = [(ROW_START.match(line), line) for line in lines if ROW_START.match(line)]
        assert [(found[1], found[2]) for found, _ in rows] == [
            (terminal.ICONS[c.status], c.rule_id) for c in exercise.checks]
        for (_, line), expected in zip(rows, exercise.checks, strict=True):
            assert line.endswith(" " + points_text(expected)), (width, line)
        # the points column is right-aligned: every row's first line ends in the same column
        assert len({cell_len(line) for _, line in rows}) == 1, (width, [line for _, line in rows])


@pytest.mark.parametrize("width", [60, 80, 120])
def test_the_rule_and_title_columns_stay_aligned(long_result, width):
    text = terminal.render(long_result, width=width)
    for lines in sections(text, long_result):
        title_columns = {re.match(r"^ \S {3}\S+ +", line).end()
                         for line in lines if ROW_START.match(line)}
        assert len(title_columns) == 1, (width, title_columns)
        header = next(line for line in lines if line.lstrip().startswith("Rule"))
        assert header.index("Rule") == 5 and header.index("Check") == title_columns.pop()


@pytest.mark.parametrize("width", [45, 60, 80, 120])
def test_nothing_is_wider_than_the_terminal(long_result, width):
    text = terminal.render(long_result, width=width)
    too_wide = [line for line in text.splitlines() if cell_len(line) > width]
    assert too_wide == []
    assert text.splitlines()[-1] == long_result.summary_line()


@pytest.mark.parametrize("width", [60, 80, 120])
def test_messages_and_fixes_wrap_under_their_own_column(long_result, width):
    text = terminal.render(long_result, width=width)
    lines = text.splitlines()
    what, taken = field_value(lines, "what")
    assert what == WHAT and len(taken) > 1
    fix, _ = field_value(lines, "how to fix")
    assert fix == FIX
    # the log line wraps within the width, its continuation indented like the log
    log_at = next(i for i, line in enumerate(lines) if "go: downloading" in line)
    assert lines[log_at].startswith(" " * 8 + "go: downloading")
    assert all(line.startswith(" " * 8) for line in lines[log_at:lines.index("        exit 1")])
    # a failure's heading wraps under its text, past the icon
    heading_at = next(i for i, line in enumerate(lines) if line.startswith("  ✘ ML4-TOOLS lab:"))
    if width < 80:
        assert lines[heading_at + 1].startswith("    ") and lines[heading_at + 1][4] != " "


def test_below_sixty_columns_the_rule_leads_the_title(long_result):
    lines = terminal.render(long_result, width=45).splitlines()
    assert not any(line.lstrip().startswith("Rule") for line in lines)
    assert any(re.match(r"^ ✔ {3}ML4-BUILD the image builds .* 5/5$", line) for line in lines)


def no_terminal(monkeypatch, columns: str | None) -> None:
    """stdout is a pipe or a CI log; COLUMNS as given (None: not set)."""
    def not_a_terminal(*_args):
        raise OSError("not a terminal")

    monkeypatch.setattr(os, "get_terminal_size", not_a_terminal)
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)


@pytest.mark.parametrize(("columns", "width"), [
    (None, 80), ("60", 60), ("100", 100), ("250", 120), ("20", 40)])
def test_the_width_follows_columns_else_the_default(monkeypatch, columns, width):
    no_terminal(monkeypatch, columns)
    assert terminal.report_width() == width


def test_the_terminal_format_renders_at_the_detected_width(monkeypatch, long_result):
    """What `dockerlab grade` prints through the format registry into a CI log."""
    no_terminal(monkeypatch, None)
    text = render(long_result, "terminal")
    assert max(cell_len(line) for line in text.splitlines()) <= 80
    assert any(line.startswith("────") and cell_len(line) == 80 for line in text.splitlines())


# --- the live progress line ---------------------------------------------------------------

RAW_BUILD = [  # as the classic builder streams them
    "Step 1/9 : FROM diamol/golang AS builder",
    " ---> 4a3b2c1d0e9f",
    "Step 2/9 : COPY go.mod go.sum ./",
    " ---> Using cache",
    " ---> 1a2b3c4d5e6f",
    "Step 3/9 : RUN go build -o /server .",
    " ---> Running in 3b93a1c2d4e5",
    "Removing intermediate container 3b93a1c2d4e5",
    " ---> 9f8e7d6c5b4a",
    "Successfully built 9f8e7d6c5b4a",
    "Successfully tagged dockerlab/lab:latest",
]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def terminal_console(width: int = 80) -> Console:
    return Console(file=io.StringIO(), width=width, force_terminal=True, force_interactive=True)


def shown(progress: terminal.LiveProgress) -> str:
    """The spinner line as it is drawn now, without its spinner frame."""
    console = Console(file=io.StringIO(), width=progress.console.width, force_terminal=False)
    console.print(progress.spinner.renderable)
    return console.file.getvalue().rstrip("\n")[2:]


def drawn(console: Console) -> str:
    """All a terminal was sent, spinner redraws included, without the escape sequences."""
    return clean_text(console.file.getvalue())


def test_progress_names_the_running_step_and_its_seconds():
    clock, console = FakeClock(), terminal_console()
    seen = []
    with terminal.LiveProgress(console, quiet=False, clock=clock) as progress:
        progress.exercise_started("lab", "The lab")
        seen.append(shown(progress))
        for line in RAW_BUILD:
            progress.line(line)
            if line.startswith(" ---> Running in"):
                clock.now += 12.4  # the step runs a while, printing nothing
            seen.append(shown(progress))
    assert seen[0] == "lab · starting · 0 s"
    assert "lab · building step 1/9 `FROM diamol/golang AS builder` · 0 s" in seen
    assert "lab · using the cache for step 2/9 `COPY go.mod go.sum ./` · 0 s" in seen
    assert seen[RAW_BUILD.index(" ---> Running in 3b93a1c2d4e5") + 1] == (
        "lab · building step 3/9 `RUN go build -o /server .` · 12 s")
    assert seen[-1] == "lab · checking · 0 s"
    for stale in ("Running in", "Successfully tagged", "Successfully built", "---> "):
        assert not any(stale in line for line in seen)
        assert stale not in drawn(console)
    assert progress.spinner is None  # transient: gone with the progress


def test_progress_seconds_tick_while_a_step_prints_nothing():
    """No line arrives; rich's Live redraws the spinner line on its own timer."""
    clock, console = FakeClock(), terminal_console()
    with terminal.LiveProgress(console, quiet=False, clock=clock) as progress:
        progress.exercise_started("lab", "The lab")
        progress.line("Step 3/9 : RUN go build -o /server .")
        clock.now += 7
        deadline = time.monotonic() + 5
        while "· 7 s" not in drawn(console) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "lab · building step 3/9 `RUN go build -o /server .` · 7 s" in drawn(console)
        clock.now += 65
        assert shown(progress).endswith("· 1 min 12 s")


def test_progress_keeps_the_step_while_other_checks_finish(lab_check):
    clock = FakeClock()
    with terminal.LiveProgress(terminal_console(), quiet=False, clock=clock) as progress:
        progress.exercise_started("lab", "The lab")
        progress.line("Step 4/9 : RUN go mod download")
        clock.now += 3
        progress.check_done(lab_check)  # a static check, judged while the image builds
        assert shown(progress) == "lab · building step 4/9 `RUN go mod download` · 3 s"
        for line in RAW_BUILD[-2:]:
            progress.line(line)
        clock.now += 20
        assert shown(progress) == "lab · checking · 20 s"
        progress.check_done(lab_check)
        assert shown(progress) == "lab · checking · 0 s"
        progress.exercise_started("next", "The next exercise")
        progress.line(" ---> Running in 3b93a1c2d4e5")  # joined its build half-way
        assert shown(progress) == "next · building · 0 s"


def test_a_long_instruction_is_cut_short_but_the_seconds_stay():
    clock = FakeClock()
    with terminal.LiveProgress(terminal_console(60), quiet=False, clock=clock) as progress:
        progress.exercise_started("lab", "The lab")
        progress.line("Step 5/9 : RUN apt-get update && apt-get install -y --no-install-recommends"
                      " golang-go make gcc && rm -rf /var/lib/apt/lists/*")
        clock.now += 42
        line = shown(progress)
        assert line.startswith("lab · building step 5/9 `RUN apt-get update")
        assert line.endswith("… · 42 s") and cell_len(line) + 2 <= 60


def test_progress_off_a_terminal_prints_no_build_lines(lab_check):
    console = Console(file=io.StringIO(), width=100, force_terminal=False)
    with terminal.LiveProgress(console, quiet=False) as progress:
        progress.exercise_started("lab", "The lab")
        for line in RAW_BUILD:
            progress.line(line)
        progress.check_done(lab_check)
    assert console.file.getvalue().splitlines() == [
        "▸ lab — The lab", "✔ ML4-BUILD lab: the image builds (built in 41 s)"]
    assert progress.spinner is None


def test_progress_verbose_still_prints_every_build_line():
    console = Console(file=io.StringIO(), width=100, force_terminal=False)
    progress = terminal.LiveProgress(console, quiet=False, verbose=True)
    for line in RAW_BUILD:
        progress.line(line)
    assert console.file.getvalue().splitlines() == [f"  {line}" for line in RAW_BUILD]


@pytest.fixture
def lab_check() -> CheckResult:
    return check("ML4-BUILD", "lab", Status.PASSED, 5, 5, "the image builds", what="built in 41 s")
