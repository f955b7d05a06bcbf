"""The class report: one self-contained HTML file an instructor would rather look at than read.

A class summary (score histogram, pass rate per check and per exercise, the most common
failure messages, final-image sizes against the budget and the reference solution), then
one section per learner: each exercise's checks and, for a size-checked exercise, what its
final image is made of, layer by layer.

Jinja2 renders the page with autoescape on: names, check messages, layer labels and errors
come from learners and are hostile text. matplotlib draws the charts as inline SVG with
text kept as text (`svg.fonttype: none`: no font embedded, none fetched, the text readable
in the DOM) and never read as math; no learner-made text goes into a chart (a layer's label
is in the HTML legend beside it). The page loads nothing: no external style sheet, script,
font or image, and it needs no script.
"""

from __future__ import annotations

import io
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator

import matplotlib
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator
from matplotlib.transforms import blended_transform_factory

from grader.checks.size import SizeCheck
from grader.classroom.records import LearnerRecord
from grader.results import Status
from grader.spec import LabSpec

SCORE_BINS = 10  # the histogram: 0–10 %, 10–20 %, …, 90–100 % (100 % in the last)
COMMON_FAILURES = 12  # message groups shown
SHOWN_LAYERS = 6  # as ML4-SIZE's own breakdown: the heaviest layers, the rest as one
DETAILS_CHARS = 4_000  # of a failed check's details (a build log); the result file has all
TITLE_CHARS = 56  # a check's title beside its bar
# Inches of a full-width chart: 1 in is 96 CSS px, so it fills a panel (about 1,090 px)
# with its text at the page's size, neither stretched nor shrunk.
PAGE_WIDTH = 11.3

PASSED, FAILED = Status.PASSED.value, Status.FAILED.value
GOOD, FAIR, POOR = "#2f855a", "#d69e2e", "#c53030"  # pass rates from 80 %, from 50 %, below
BUDGET, REFERENCE = "#c53030", "#2b6cb0"
INK, MUTED, TRACK = "#1a202c", "#718096", "#edf2f7"
# Layers in build order; colour-blind-safe (Okabe–Ito), the merged small layers grey.
LAYER_COLORS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00")
SMALL_LAYERS_COLOR = "#a0aec0"

CHART_STYLE = {
    "svg.fonttype": "none",  # text as <text>: the viewer's own fonts draw it, nothing fetched
    "svg.hashsalt": "dockerlab-report",  # ids from content, not uuid4: same input, same bytes
    "text.parse_math": False,  # a `$` in a title is a dollar sign, not mathtext
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # matplotlib's own, so its text metrics fit the page
    "font.size": 9,
    "axes.edgecolor": MUTED,
    "axes.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "xtick.labelcolor": INK,
    "ytick.labelcolor": INK,
    "figure.facecolor": "none",  # the panel's background shows through
    "axes.facecolor": "none",
}
# No date, tool or Dublin Core type: the bytes depend on the figures alone, and the SVG
# names no URL (matplotlib's default metadata links purl.org and matplotlib.org).
NO_METADATA = {"Date": None, "Creator": None, "Type": None, "Format": None}


# -- The class in figures ------------------------------------------------------------------

CheckKey = tuple[str, str, str, int]  # exercise, rule, title, which of the same (0, 1, …)


@dataclass
class CheckRate:
    """How the class did on one check of the lab."""

    exercise: str
    rule_id: str
    title: str
    required: bool
    advisory: bool  # worth no points: hadolint's advice
    statuses: Counter = field(default_factory=Counter)

    @property
    def judged(self) -> int:
        return sum(self.statuses.values())

    @property
    def passed(self) -> int:
        return self.statuses[PASSED]

    @property
    def percent(self) -> float | None:
        return 100.0 * self.passed / self.judged if self.judged else None


@dataclass
class ExerciseRate:
    id: str
    title: str
    passed: int = 0
    graded: int = 0
    percents: list[float] = field(default_factory=list)

    @property
    def percent_passed(self) -> float | None:
        return 100.0 * self.passed / self.graded if self.graded else None

    @property
    def mean_percent(self) -> float | None:
        return statistics.fmean(self.percents) if self.percents else None


@dataclass
class FailureGroup:
    """Failed checks of one rule whose messages differ only in numbers, paths and code."""

    rule_id: str
    pattern: str
    example: str
    example_learner: str
    count: int = 0
    learners: set[str] = field(default_factory=set)
    exercises: list[str] = field(default_factory=list)


@dataclass
class SizeSpread:
    """The class's final images of one size-checked exercise."""

    exercise: str
    title: str
    budget_bytes: int
    reference_bytes: int | None = None
    sizes: list[int] = field(default_factory=list)
    unmeasured: int = 0  # graded, but the image was not measured (it did not build)

    @property
    def over_budget(self) -> int:
        return sum(1 for size in self.sizes if size > self.budget_bytes)

    @property
    def median_bytes(self) -> float | None:
        return statistics.median(self.sizes) if self.sizes else None


@dataclass
class ClassFigures:
    learners: int
    graded: int
    errored: int
    passed: int
    percents: list[float]
    score_bins: list[int]
    checks: list[CheckRate]
    exercises: list[ExerciseRate]
    failures: list[FailureGroup]
    sizes: list[SizeSpread]

    @property
    def pass_rate(self) -> float | None:
        return 100.0 * self.passed / self.graded if self.graded else None


def keyed_checks(result: dict) -> Iterator[tuple[CheckKey, dict, dict]]:
    """Each check of a result with a key stable across learners (a lab may hold the same
    rule and title twice in one exercise: they are told apart by their order)."""
    for exercise in result["exercises"]:
        seen: Counter = Counter()
        for check in exercise["checks"]:
            named = (exercise["id"], check["rule_id"], check["title"])
            yield (*named, seen[named]), exercise, check
            seen[named] += 1


def score_bins(percents: list[float]) -> list[int]:
    """Learners per 10 % of score; 100 % counts in the last bin, 90–100 %."""
    counts = [0] * SCORE_BINS
    width = 100 / SCORE_BINS
    for percent in percents:
        counts[min(max(int(percent // width), 0), SCORE_BINS - 1)] += 1
    return counts


CODE = re.compile(r"`[^`]*`")
PATH = re.compile(r"(?<![\w/.-])(?:/[\w.-]+)+/?|(?<![\w/.-])[\w.-]+(?:/[\w.-]+)+/?")
NUMBER = re.compile(r"(?<![A-Za-z])\d+(?:[.,]\d+)*")


def failure_pattern(what: str) -> str:
    """A message with what differs between learners left out: quoted code (their own
    instructions), paths and image names, numbers (lines, sizes, counts) — so one mistake
    made by many reads as one line."""
    text = CODE.sub("`…`", what)
    text = PATH.sub("…", text)
    text = NUMBER.sub("N", text)
    return " ".join(text.split())


def class_figures(lab: LabSpec, records: list[LearnerRecord]) -> ClassFigures:
    graded = [record for record in records if record.graded and record.result is not None]
    percents = [float(record.result["percent"]) for record in graded]

    checks: dict[CheckKey, CheckRate] = {}
    exercises: dict[str, ExerciseRate] = {}
    sizes: dict[str, SizeSpread] = {}
    for exercise in lab.exercises:  # the lab's order, so a check nobody reached still shows
        exercises[exercise.id] = ExerciseRate(exercise.id, exercise.title)
        seen: Counter = Counter()
        for check in exercise.all_checks():
            named = (exercise.id, check.rule_id, check.display_title)
            checks[(*named, seen[named])] = CheckRate(*named, required=check.required,
                                                      advisory=check.points == 0)
            seen[named] += 1
            if isinstance(check, SizeCheck) and exercise.id not in sizes:
                sizes[exercise.id] = SizeSpread(exercise.id, exercise.title,
                                                budget_bytes=round(check.max_mb * 1_000_000))

    failures: dict[tuple[str, str], FailureGroup] = {}
    references: dict[str, Counter] = {exercise: Counter() for exercise in sizes}
    for record in graded:
        for exercise in record.result["exercises"]:
            rate = exercises.setdefault(exercise["id"], ExerciseRate(exercise["id"],
                                                                      exercise["title"]))
            rate.graded += 1
            rate.passed += bool(exercise["passed"])
            rate.percents.append(float(exercise["percent"]))
        for key, exercise, check in keyed_checks(record.result):
            rate = checks.setdefault(key, CheckRate(*key[:3], required=check["required"],
                                                    advisory=check["max_points"] == 0))
            rate.statuses[check["status"]] += 1
            if check["status"] == FAILED:
                pattern = failure_pattern(check["what"])
                group = failures.setdefault((check["rule_id"], pattern), FailureGroup(
                    check["rule_id"], pattern, check["what"], record.learner))
                group.count += 1
                group.learners.add(record.learner)
                if exercise["id"] not in group.exercises:
                    group.exercises.append(exercise["id"])
            spread = sizes.get(exercise["id"])
            if spread is not None and check["rule_id"] == SizeCheck.rule_id:
                measured = check.get("measured") or {}
                if "size_bytes" in measured:
                    spread.sizes.append(int(measured["size_bytes"]))
                    if measured.get("reference_bytes") is not None:
                        references[exercise["id"]][int(measured["reference_bytes"])] += 1
                else:
                    spread.unmeasured += 1
    for exercise, seen_references in references.items():
        if seen_references:  # the reference is built once; the figure most learners saw
            sizes[exercise].reference_bytes = seen_references.most_common(1)[0][0]

    common = sorted(failures.values(),
                    key=lambda group: (-group.count, -len(group.learners), group.rule_id,
                                       group.pattern))
    return ClassFigures(
        learners=len(records),
        graded=len(graded),
        errored=len(records) - len(graded),
        passed=sum(1 for record in graded if record.result["passed"]),
        percents=percents,
        score_bins=score_bins(percents),
        checks=list(checks.values()),
        exercises=list(exercises.values()),
        failures=common[:COMMON_FAILURES],
        sizes=list(sizes.values()),
    )


# -- Charts --------------------------------------------------------------------------------

SVG_STYLE = re.compile(r"\s*<defs>\s*<style[^>]*>[^<]*</style>\s*</defs>")
SVG_NAMESPACES = re.compile(r' xmlns(?::xlink)?="[^"]*"')
SVG_ID = re.compile(r' id="([^"]+)"')
SVG_REFERENCE = re.compile(r'(url\(#|href="#)([^)"]+)')


def inline_svg(figure: Figure, scope: str, label: str) -> Markup:
    """The figure as an <svg> element for the page. matplotlib numbers its groups per
    figure (figure_1, axes_1, …) and names clip paths and markers by their content, so two
    charts on one page would share ids: ids nothing refers to are dropped, the others are
    prefixed with the chart's `scope`, unique on the page."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata=NO_METADATA)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]  # no XML prolog or DOCTYPE inside HTML
    svg = SVG_NAMESPACES.sub("", svg, count=2)  # HTML's parser gives inline SVG its own
    svg = SVG_STYLE.sub("", svg, count=1)  # its line-join default is in the page's style sheet
    referenced = {match.group(2) for match in SVG_REFERENCE.finditer(svg)}
    svg = SVG_ID.sub(lambda match: f' id="{scope}-{match.group(1)}"'
                     if match.group(1) in referenced else "", svg)
    svg = SVG_REFERENCE.sub(lambda match: f"{match.group(1)}{scope}-{match.group(2)}", svg)
    return Markup(svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1))


def rate_color(percent: float | None) -> str:
    if percent is None:
        return TRACK
    return GOOD if percent >= 80 else FAIR if percent >= 50 else POOR


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def mb(size: float) -> str:
    """Decimal units, as docker shows them."""
    return f"{size / 1_000:.1f} kB" if size < 100_000 else f"{size / 1_000_000:.1f} MB"


def histogram_chart(figures: ClassFigures, pass_mark: float) -> Markup:
    figure = Figure(figsize=(5.4, 2.9), layout="constrained")
    axes = figure.add_subplot()
    width = 100 / SCORE_BINS
    lows = [index * width for index in range(SCORE_BINS)]
    colors = [POOR if low + width <= pass_mark else GOOD if low >= pass_mark else FAIR
              for low in lows]
    bars = axes.bar([low + width / 2 for low in lows], figures.score_bins, width=width * 0.9,
                    color=colors)
    axes.bar_label(bars, labels=[str(count) if count else "" for count in figures.score_bins],
                   padding=2, color=INK)
    axes.axvline(pass_mark, color=INK, linestyle="--", linewidth=1)
    axes.annotate(f"pass mark {pass_mark:g} %", (pass_mark, 1), xycoords=("data", "axes fraction"),
                  xytext=(-4, 0), textcoords="offset points", ha="right", va="top", color=INK)
    axes.set_xlim(0, 100)
    axes.set_ylim(0, max([*figures.score_bins, 1]) * 1.18)
    axes.set_xticks(range(0, 101, int(width)))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g} %"))
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("score")
    axes.set_ylabel("learners")
    return inline_svg(figure, "histogram", "Score histogram: learners per 10 % of score")


def check_rates_chart(figures: ClassFigures) -> Markup:
    """One bar per check under its exercise's title, in the lab's order, on one axis so
    every bar starts at the same place."""
    exercise_titles = {rate.id: rate.title for rate in figures.exercises}
    groups: dict[str, list[CheckRate]] = {}
    for rate in figures.checks:
        groups.setdefault(rate.exercise, []).append(rate)
    rows: list[tuple[float, CheckRate]] = []
    headings: list[tuple[float, str]] = []
    position = 0.0
    for exercise, rates in groups.items():
        headings.append((position, exercise_titles.get(exercise, exercise)))
        position += 1.1
        for rate in rates:
            rows.append((position, rate))
            position += 1
        position += 0.3
    figure = Figure(figsize=(PAGE_WIDTH, 0.22 * position + 0.6), layout="constrained")
    axes = figure.add_subplot()
    at = [y for y, _ in rows]
    rates = [rate for _, rate in rows]
    axes.barh(at, [100] * len(rates), height=0.72, color=TRACK)
    axes.barh(at, [rate.percent or 0.0 for rate in rates], height=0.72,
              color=[MUTED if rate.advisory else rate_color(rate.percent) for rate in rates])
    axes.set_yticks(at, [f"{rate.rule_id}  {shorten(rate.title, TITLE_CHARS)}" for rate in rates])
    for label, rate in zip(axes.get_yticklabels(), rates, strict=True):
        if rate.required:
            label.set_fontweight("bold")
    counts = axes.secondary_yaxis("right")
    counts.set_yticks(at, [f"{rate.passed}/{rate.judged}  {rate.percent:.0f} %"
                           if rate.judged else "not judged" for rate in rates])
    counts.tick_params(length=0)
    counts.spines["right"].set_visible(False)
    # An exercise's title starts at the figure's left edge, above its checks' labels.
    heading_place = blended_transform_factory(figure.transFigure, axes.transData)
    for y, heading in headings:
        axes.text(0.004, y, heading, transform=heading_place, fontweight="bold", fontsize=10,
                  color=INK, va="center")
    axes.set_ylim(position - 0.3, -0.6)
    axes.set_xlim(0, 100)
    axes.set_xticks(range(0, 101, 20))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g} %"))
    axes.set_xlabel("learners who passed the check")
    axes.tick_params(axis="y", length=0)
    axes.spines["left"].set_visible(False)
    return inline_svg(figure, "check-rates", "Pass rate per check, grouped by exercise")


def exercise_rates_chart(figures: ClassFigures) -> Markup:
    rates = figures.exercises
    figure = Figure(figsize=(5.4, 0.42 * len(rates) + 1.1), layout="constrained")
    axes = figure.add_subplot()
    rows = range(len(rates))
    axes.barh(rows, [100] * len(rates), height=0.62, color=TRACK)
    axes.barh(rows, [rate.percent_passed or 0.0 for rate in rates], height=0.62,
              color=[rate_color(rate.percent_passed) for rate in rates],
              label="passed the exercise")
    means = [(row, rate.mean_percent) for row, rate in zip(rows, rates, strict=True)
             if rate.mean_percent is not None]
    axes.scatter([mean for _, mean in means], [row for row, _ in means], marker="D", s=22,
                 color=INK, zorder=3, label="mean score")
    axes.set_yticks(rows, [shorten(rate.title, 34) for rate in rates])
    axes.set_ylim(len(rates) - 0.5, -0.5)
    axes.set_xlim(0, 100)
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g} %"))
    axes.tick_params(axis="y", length=0)
    axes.spines["left"].set_visible(False)
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
    return inline_svg(figure, "exercise-rates", "Pass rate and mean score per exercise")


def jitter(index: int) -> float:
    """A spread of points within their row that is the same on every run (golden ratio)."""
    return ((index * 0.6180339887) % 1 - 0.5) * 0.6


def size_spread_chart(spreads: list[SizeSpread]) -> Markup:
    """Each learner's final image as a dot on a log scale, the budget and the reference
    solution's size as marks across the row. Dots rather than a box: a class is often two
    groups (multi-stage or not, megabytes or hundreds), which a box would blur."""
    figure = Figure(figsize=(PAGE_WIDTH, 0.95 * len(spreads) + 0.9), layout="constrained")
    axes = figure.add_subplot()
    every = [size for spread in spreads for size in spread.sizes]
    every += [spread.budget_bytes for spread in spreads]
    every += [spread.reference_bytes for spread in spreads if spread.reference_bytes]
    for row, spread in enumerate(spreads):
        megabytes = [size / 1_000_000 for size in spread.sizes]
        axes.scatter(megabytes, [row + jitter(index) for index in range(len(megabytes))],
                     s=20, alpha=0.75, zorder=5, linewidths=0,
                     color=[POOR if size > spread.budget_bytes else GOOD for size in spread.sizes])
        budget = spread.budget_bytes / 1_000_000
        axes.vlines(budget, row - 0.42, row + 0.42, color=BUDGET, linestyle="--", linewidth=1.6,
                    zorder=4)
        axes.annotate(f"budget {budget:g} MB", (budget, row - 0.42), xytext=(3, 0),
                      textcoords="offset points", va="bottom", color=BUDGET, fontsize=8)
        if spread.reference_bytes:
            reference = spread.reference_bytes / 1_000_000
            axes.vlines(reference, row - 0.42, row + 0.42, color=REFERENCE, linewidth=1.6,
                        zorder=4)
            axes.annotate(f"reference {reference:.1f} MB", (reference, row + 0.42),
                          xytext=(-3, 0), textcoords="offset points", ha="right", va="top",
                          color=REFERENCE, fontsize=8)
    axes.set_xscale("log")
    axes.set_xlim(min(every) / 1_000_000 / 2, max(every) / 1_000_000 * 2)
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g} MB"))
    axes.xaxis.set_minor_locator(NullLocator())
    axes.set_yticks(range(len(spreads)), [shorten(spread.title, 40) for spread in spreads])
    axes.set_ylim(len(spreads) - 0.5, -0.5)
    axes.tick_params(axis="y", length=0)
    axes.set_xlabel("final image size (log scale); a dot per learner, red when over budget")
    axes.grid(axis="x", color=TRACK)
    axes.set_axisbelow(True)
    return inline_svg(figure, "sizes", "Final image size per exercise against the budget and "
                      "the reference solution")


@dataclass(frozen=True)
class LayerPiece:
    number: int
    label: str  # the learner's instruction or base image, as the size check names it
    line: int | None
    bytes: int
    color: str


@dataclass(frozen=True)
class LayerChart:
    svg: Markup
    pieces: list[LayerPiece]
    size_bytes: int
    budget_bytes: int
    reference_bytes: int | None


def layer_pieces(layers: list[dict]) -> list[LayerPiece]:
    """The heaviest layers in build order (by line), the rest as one "smaller layers"."""
    heaviest = sorted(layers, key=lambda layer: -layer["bytes"])[:SHOWN_LAYERS]
    rest = [layer for layer in layers if layer not in heaviest]
    in_build_order = sorted(heaviest, key=lambda layer: (layer["line"] is None,
                                                         layer["line"] or 0))
    pieces = [LayerPiece(number, layer["label"], layer["line"], layer["bytes"],
                         LAYER_COLORS[number - 1])
              for number, layer in enumerate(in_build_order, start=1)]
    if rest:
        pieces.append(LayerPiece(len(pieces) + 1, f"{len(rest)} smaller layers", None,
                                 sum(layer["bytes"] for layer in rest), SMALL_LAYERS_COLOR))
    return pieces


def layer_chart(measured: dict, scope: str) -> LayerChart:
    """One stacked bar of the image's layers, numbered as the legend beside it, with the
    budget and the reference solution's size marked across it. Small and without axes:
    a class of hundreds has one per learner and size-checked exercise."""
    pieces = layer_pieces(measured.get("layers") or [])
    size, budget = measured["size_bytes"], measured["budget_bytes"]
    reference = measured.get("reference_bytes")
    figure = Figure(figsize=(PAGE_WIDTH, 0.62))
    axes = figure.add_axes((0.002, 0.3, 0.996, 0.4))
    axes.set_axis_off()
    lefts = [sum(piece.bytes for piece in pieces[:index]) for index in range(len(pieces))]
    axes.barh(0, [piece.bytes for piece in pieces], left=lefts, height=1,
              color=[piece.color for piece in pieces], edgecolor="white", linewidth=0.6)
    end = max(size, budget, reference or 0) * 1.02
    axes.set_xlim(0, end)
    axes.set_ylim(-0.5, 0.5)
    for piece, left in zip(pieces, lefts, strict=True):
        if piece.bytes > end * 0.02:  # room for its number
            axes.text(left + piece.bytes / 2, 0, str(piece.number), ha="center", va="center",
                      color="white", fontweight="bold", fontsize=8)
    # Each mark's name beside it, the budget's above the bar and the reference's below, so
    # the two never overlap however close they are.
    marks = [(budget, BUDGET, "--", f"budget {mb(budget)}", 0.62, "bottom")]
    if reference:
        marks.append((reference, REFERENCE, "-", f"reference {mb(reference)}", -0.62, "top"))
    for at, color, style, name, y, align in marks:
        axes.plot([at, at], [-0.75, 0.75], color=color, linestyle=style, linewidth=1.6,
                  clip_on=False)
        axes.text(at, y, f" {name}", ha="left", va=align, color=color, fontsize=7.5,
                  clip_on=False)
    svg = inline_svg(figure, scope, f"Image size by layer: {mb(size)}, budget {mb(budget)}")
    return LayerChart(svg, pieces, size, budget, reference)


# -- The page ------------------------------------------------------------------------------

@dataclass(frozen=True)
class LearnerView:
    record: LearnerRecord
    anchor: str
    layer_charts: dict[str, LayerChart]  # by exercise id

    @property
    def failed_checks(self) -> int:
        result = self.record.result or {"exercises": []}
        return sum(1 for _, _, check in keyed_checks(result) if check["status"] == FAILED)


def anchors(names: list[str]) -> list[str]:
    """An id per learner for the table of contents: readable, and unique on the page."""
    taken: set[str] = set()
    result = []
    for name in names:
        base = "learner-" + (re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "x")
        anchor, number = base, 1
        while anchor in taken:
            number += 1
            anchor = f"{base}-{number}"
        taken.add(anchor)
        result.append(anchor)
    return result


def learner_views(records: list[LearnerRecord]) -> list[LearnerView]:
    ordered = sorted(records, key=lambda record: (record.learner.casefold(), record.learner))
    views = []
    ids = anchors([record.learner for record in ordered])
    for record, anchor in zip(ordered, ids, strict=True):
        charts: dict[str, LayerChart] = {}
        for _, exercise, check in keyed_checks(record.result or {"exercises": []}):
            measured = check.get("measured") or {}
            if (check["rule_id"] == SizeCheck.rule_id and "size_bytes" in measured
                    and exercise["id"] not in charts):
                charts[exercise["id"]] = layer_chart(measured, f"{anchor}-{exercise['id']}")
        views.append(LearnerView(record, anchor, charts))
    return views


def clipped(text: str) -> str:
    """The end of a long text (a build log ends with its error)."""
    if len(text) <= DETAILS_CHARS:
        return text
    return "… (the start is in the learner's result file)\n" + text[-DETAILS_CHARS:]


CODE_SPAN = re.compile(r"`([^`\n]+)`")


def code_spans(text: str) -> Markup:
    """Messages quote Dockerfile text in backticks: shown as code. The text is escaped
    first, so the spans hold escaped text only."""
    return Markup(CODE_SPAN.sub(r"<code>\1</code>", str(escape(text))))


def environment() -> Environment:
    env = Environment(loader=PackageLoader("grader.classroom", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters.update(mb=mb, clipped=clipped, shorten=shorten, code=code_spans)
    return env


def render_report(lab: LabSpec, records: list[LearnerRecord], *, title: str | None = None) -> str:
    """The class report as one HTML page that loads nothing from anywhere."""
    figures = class_figures(lab, records)
    with matplotlib.rc_context(CHART_STYLE):
        charts = {
            "histogram": histogram_chart(figures, lab.pass_mark),
            "checks": check_rates_chart(figures),
            "exercises": exercise_rates_chart(figures),
            "sizes": size_spread_chart(figures.sizes) if any(s.sizes for s in figures.sizes)
            else None,
        }
        learners = learner_views(records)
    graded_at = [record.graded_at for record in records if record.graded_at]
    return environment().get_template("report.html.j2").render(
        title=title or f"{lab.title} — class report",
        lab=lab,
        figures=figures,
        charts=charts,
        learners=learners,
        bin_width=100 // SCORE_BINS,
        latest_grading=max(graded_at) if graded_at else None,
        median=statistics.median(figures.percents) if figures.percents else None,
        mean=statistics.fmean(figures.percents) if figures.percents else None,
    )
