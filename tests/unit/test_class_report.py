"""The class report (grader/classroom/report.py): its figures are the records' figures, it
escapes what learners wrote, shows who could not be graded, loads nothing and is the same
bytes for the same records."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from grader.classroom.records import ERROR, GRADED, LearnerRecord
from grader.classroom.report import failure_pattern, render_report
from grader.spec import load_lab

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "tests" / "fixtures" / "learner-results"  # real `grade --format json`
HOSTILE = """<script>alert('x')</script><img src=x onerror=alert(1)>" onmouseover="alert(2)"""


def result(name: str) -> dict:
    """solution.json: the reference solution (100 %); starter.json: the unmodified starters."""
    return json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8"))


def graded(learner: str, outcome: dict) -> LearnerRecord:
    return LearnerRecord(learner, GRADED, "0" * 64, 41.5, "2026-03-02T09:30:00+00:00",
                         result=outcome)


def errored(learner: str, error: str) -> LearnerRecord:
    return LearnerRecord(learner, ERROR, "1" * 64, 0.4, "2026-03-02T09:31:00+00:00",
                         error=error)


@pytest.fixture(scope="module")
def lab():
    return load_lab(REPO / "labs" / "lab4" / "lab.yml")


@pytest.fixture(scope="module")
def records() -> list[LearnerRecord]:
    """A class of 12: 4 reference solutions, 7 starters, one grading that could not run."""
    solution, starter = result("solution"), result("starter")
    class_ = [graded(f"solver-{n}", solution) for n in range(4)]
    class_ += [graded(f"starter-{n}", starter) for n in range(7)]
    return class_ + [errored("unreachable", "git clone failed: repository not found")]


@pytest.fixture(scope="module")
def page(lab, records) -> str:
    return render_report(lab, records)


class Tables(HTMLParser):
    """Every table of the page by its id: its rows as lists of cell texts."""

    def __init__(self, html: str):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._table = self.tables.setdefault(dict(attrs).get("id") or "", [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self._table[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def rows(page: str, table: str) -> list[list[str]]:
    return Tables(page).tables[table][1:]  # without the heading row


def test_the_histogram_counts_each_learner_in_their_10_percent(page, records):
    expected = [0] * 10
    for record in records:
        if record.graded:
            expected[min(int(record.result["percent"] // 10), 9)] += 1
    assert expected[4] == 7 and expected[9] == 4  # the starters' 45.2 %, the solutions' 100 %
    [counts] = rows(page, "score-bins")
    assert [int(count) for count in counts] == expected
    histogram = page[page.index('id="histogram"'):page.index('id="score-bins"')]
    shown = re.findall(r"<text [^>]*>(\d+)</text>", histogram)
    assert "7" in shown and "4" in shown  # each bar labelled with its count


def test_the_pass_rate_of_each_check_is_the_records_own(page, records):
    passed: Counter = Counter()
    judged: Counter = Counter()
    for record in records:
        for exercise in record.result["exercises"] if record.graded else []:
            for check in exercise["checks"]:
                key = (exercise["id"], check["rule_id"], check["title"])
                judged[key] += 1
                passed[key] += check["status"] == "passed"
    shown = {(exercise, rule, title): (ratio, rate)
             for exercise, rule, title, ratio, _, _, rate in rows(page, "check-rates-table")}
    # Two checks of access-log share a rule (ML4-HTTP) but not a title: every one is a row.
    assert set(judged) <= set(shown)
    # A check of the lab's that no record judged (here lab4's hidden one: the records are a
    # learner's runs) still has its row, with nothing counted.
    for key in set(shown) - set(judged):
        assert shown[key][0] == "0/0", key
    for key in judged:
        percent = round(100 * passed[key] / judged[key])
        assert shown[key] == (f"{passed[key]}/{judged[key]}", f"{percent} %"), key
    assert shown[("lab", "ML4-SIZE", "final image ≤ 30 MB")] == ("4/11", "36 %")
    chart = page[page.index('id="checks"'):page.index('id="check-rates-table"')]
    assert "4/11  36 %" in chart  # beside the bar, in the SVG itself


def test_the_summary_counts_learners_verdicts_and_exercises(page):
    assert re.search(r'id="learner-count">12<', page)
    assert re.search(r'id="pass-rate">36 % <small>4 of 11</small>', page)  # 4 of 11 graded
    assert "1 error<" in page
    exercises = {title: (ratio, mean) for title, ratio, mean in rows(page, "exercise-rates-table")}
    # multi-stage: 4 × 100 % and 7 × 50 %, none of the starters passes it
    assert exercises["4.1 Three stages, one result"] == ("4/11", "68.2 %")


def test_similar_failure_messages_are_counted_as_one(page):
    single_stage = ("The Dockerfile has a single stage (FROM diamol/golang, line 16): the SDK, "
                    "the build tools and the sources all ship in the image.")
    assert failure_pattern(single_stage) == failure_pattern(
        "The Dockerfile has a single stage (FROM diamol/maven, line 19): the SDK, the build "
        "tools and the sources all ship in the image.")
    assert failure_pattern("The image is 568.1 MB; budget 30 MB. Heaviest: `RUN go build`.") \
        == failure_pattern("The image is 12.5 MB; budget 10 MB. Heaviest: `COPY . .`.")
    # The most common: four exercises' single-stage starters, seven learners each.
    count, rule, message, exercises = rows(page, "failures-table")[0]
    assert (count, rule) == ("28 7 learners", "ML4-STAGES")
    assert message.startswith("The Dockerfile has a single stage (FROM diamol/")
    assert exercises == "image-of-the-day, access-log, image-gallery, lab"


def test_image_sizes_are_shown_against_budget_and_reference(page):
    sizes = {row[0]: row[1:] for row in rows(page, "size-table")}
    assert sizes["4.4 Go: compile in the SDK, ship only the binary"] == [
        "30.0 MB", "8.6 MB", "568.1 MB", "7/11", "0"]
    sizes_chart = page[page.index('id="sizes"'):page.index('id="size-table"')]
    assert "budget 30 MB" in sizes_chart and "reference 8.6 MB" in sizes_chart
    # And a learner's layers: the base image the starter ships, in the legend beside its chart.
    learner = page[page.index('id="learner-starter-0"'):page.index('id="learner-starter-1"')]
    assert learner.count('aria-label="Image size by layer') == 2  # image-gallery and lab
    assert "diamol/golang, the base image (3 layers)" in learner


def test_learner_text_is_escaped_wherever_it_is_shown(lab):
    """Names, messages, fixes, locations, details, layer labels, titles (in the charts too)
    and errors: each can hold markup, and each is shown as text."""
    hostile = copy.deepcopy(result("starter"))
    for exercise in hostile["exercises"]:
        for check in exercise["checks"]:
            check.update(what=f"what {HOSTILE}", fix=f"fix `{HOSTILE}`",
                         location=f"x{HOSTILE}:1", details=f"details {HOSTILE}")
            for layer in check["measured"].get("layers", []):
                layer["label"] = f"`RUN {HOSTILE}`"
    hostile["exercises"][0]["checks"].append(
        {**hostile["exercises"][0]["checks"][0], "title": f"$\\frac{{1}}{{0}}$ {HOSTILE}"})
    hostile["verdict"]["reasons"].append(HOSTILE)
    page = render_report(lab, [graded(HOSTILE, hostile), errored(f"b{HOSTILE}", HOSTILE)],
                         title=HOSTILE)
    assert "<script" not in page and "<img" not in page and 'onmouseover="' not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    chart = page[page.index('id="checks"'):page.index('id="check-rates-table"')]
    assert "$\\frac{1}{0}$ &lt;script&gt;" in chart  # a title in the chart: text, not math


def test_a_learner_who_could_not_be_graded_is_shown_with_the_error(page):
    section = page[page.index('id="learner-unreachable"'):]
    section = section[:section.index("</article>")]
    assert "could not be graded" in section
    assert "git clone failed: repository not found" in section
    toc = {row[0]: row[1:] for row in rows(page, "learners-table")}
    assert toc["unreachable"][0] == "error"
    assert 'href="#learner-unreachable"' in page


class References(HTMLParser):
    """Every attribute and style text of the page that could make a browser fetch."""

    def __init__(self, html: str):
        super().__init__()
        self.attributes: list[tuple[str, str, str]] = []
        self.styles: list[str] = []
        self.tags: Counter = Counter()
        self._in_style = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags[tag] += 1
        self._in_style = tag == "style"
        self.attributes += [(tag, name, value or "") for name, value in attrs]

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self._in_style = False

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def test_the_page_refers_to_nothing_outside_itself(page):
    found = References(page)
    fetching = {"script", "link", "img", "iframe", "object", "embed", "image", "foreignobject"}
    assert not fetching & set(found.tags)  # SVG's <use> is checked below: on-page targets only
    for tag, name, value in found.attributes:
        if name in ("src", "href", "xlink:href", "action", "srcset", "poster", "data"):
            assert value.startswith("#"), (tag, name, value)  # an anchor on the page
        assert not re.match(r"\s*(https?:|//|data:|file:)", value, re.I), (tag, name, value)
    styles = " ".join(found.styles + [value for _, name, value in found.attributes
                                      if name == "style"])
    assert "@import" not in styles and "@font-face" not in styles
    assert not re.search(r"url\(\s*['\"]?(?!#)", styles)
    assert not re.search(r"url\(\s*['\"]?(?!#)", page)  # SVG fills and clips: url(#id) only
    assert "<!DOCTYPE svg" not in page and "<?xml" not in page
    assert "default-src 'none'" in page  # and the browser is told to load nothing


def test_ids_are_unique_and_every_reference_finds_its_target(page):
    ids = re.findall(r' id="([^"]+)"', page)
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    referenced = set(re.findall(r'(?:url\(#|href="#)([^)"]+)', page))
    assert referenced and referenced <= set(ids)
    # 4 class charts and a layer chart per starter for image-gallery and lab
    assert page.count("<svg ") == 4 + 7 * 2 + 4 * 2


def test_the_same_records_give_the_same_bytes(lab, records, page):
    assert render_report(lab, records) == page


def test_an_image_that_was_not_measured_is_counted_apart(lab):
    """A learner whose image did not build has no size: not a dot at 0 MB, a count."""
    unbuilt = copy.deepcopy(result("starter"))
    for exercise in unbuilt["exercises"]:
        for check in exercise["checks"]:
            if check["rule_id"] == "ML4-SIZE":
                check.update(status="skipped", measured={},
                             what="not checked: the image did not build (ML4-BUILD)")
    page = render_report(lab, [graded("built", result("starter")), graded("unbuilt", unbuilt)])
    sizes = {row[0]: row[1:] for row in rows(page, "size-table")}
    assert sizes["4.6 Lab: make the Go page multi-stage, small and cache-friendly"] == [
        "30.0 MB", "8.2 MB", "576.2 MB", "1/1", "1"]
    learner = page[page.index('id="learner-unbuilt"'):]
    assert 'aria-label="Image size by layer' not in learner
