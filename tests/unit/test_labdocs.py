"""The lab on the docs site (issue 12): pages rendered from each lab's README and lab.yml
while mkdocs builds (grader/labdocs.py), and the reports' links to the rules' pages.

The Must-show test is test_each_exercise_page_shows_the_points_and_budgets_of_lab_yml: it
reads the built site's HTML, in English and in Korean."""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from grader import labdocs
from grader.reporters import FORMATS, render
from grader.results import CheckResult, ExerciseResult, LabResult, Status, docs_page
from grader.spec import load_lab
from tests.docs_site import built_site

REPO = Path(__file__).resolve().parents[2]
LAB_YML = REPO / "labs" / "lab4" / "lab.yml"
LANGUAGES = ("en", "ko")


@pytest.fixture(scope="module")
def lab():
    return load_lab(LAB_YML)


@pytest.fixture(scope="module")
def pages(lab):
    return labdocs.lab_pages(lab, REPO)


def page_path(exercise_id: str, language: str) -> str:
    return labdocs.suffixed(f"labs/lab4/{exercise_id}.md", language)


# --- the pages, as Markdown ---------------------------------------------------------------

def test_a_start_page_and_one_page_per_exercise_in_each_language(lab, pages):
    expected = {labdocs.suffixed(f"labs/lab4/{name}.md", language)
                for language in LANGUAGES
                for name in ["index"] + [exercise.id for exercise in lab.exercises]}
    assert set(pages) == expected


def test_each_exercise_page_is_its_readme_section(pages):
    assert pages["labs/lab4/multi-stage.md"].startswith("# 4.1 — Stages and `COPY --from`\n")
    assert pages["labs/lab4/multi-stage.ko.md"].startswith("# 4.1 — 빌드 단계와 `COPY --from`\n")
    assert pages["labs/lab4/index.ko.md"].startswith("# 실습 4 — 멀티 스테이지 빌드\n")
    # sections that are no exercise's go with the exercise before them
    assert "\n## 4.5 — Why bother?\n" in pages["labs/lab4/image-gallery.md"]
    assert "\n## Clean up\n" in pages["labs/lab4/lab.md"]


def readme_part(page: str) -> str:
    """A page's text up to what the hook adds after the README's."""
    return re.split(r"\n## .* \{#(?:exercises|grading)\}\n", page)[0]


def words_of(text: str) -> Counter:
    """Non-blank lines, links reduced to their text, headings to their words, indentation
    dropped: what must be the same whatever the page's layout."""
    lines = (re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", line).strip().lstrip("#").strip()
             for line in text.splitlines())
    return Counter(line for line in lines if line)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_pages_hold_the_whole_readme_once(lab, pages, language):
    readme = REPO / "labs" / "lab4" / ("README.md" if language == "en" else "README.ko.md")
    names = ["index"] + [exercise.id for exercise in lab.exercises]
    shown = sum((words_of(readme_part(pages[page_path(name, language)])) for name in names),
                Counter())
    assert shown == words_of(readme.read_text(encoding="utf-8"))


def test_links_into_the_repository_become_text_or_repository_links(lab):
    plain = labdocs.lab_pages(lab, REPO)["labs/lab4/index.md"]
    assert "The applications live in `apps/`:" in plain
    assert "Reference solutions are in `solution/` —" in plain
    linked = labdocs.lab_pages(lab, REPO, repo_url="https://git.example.edu/dockerlab")
    assert ("[`apps/`](https://git.example.edu/dockerlab/tree/HEAD/apps)"
            in linked["labs/lab4/index.md"])
    assert ("[`multi-stage/Dockerfile`](https://git.example.edu/dockerlab/tree/HEAD/labs/lab4/"
            "multi-stage/Dockerfile)" in linked["labs/lab4/multi-stage.md"])


def test_the_readmes_language_links_lead_to_the_other_languages_page(pages):
    assert "([한국어](../../ko/labs/lab4/))" in pages["labs/lab4/index.md"]
    assert "([English](../../../labs/lab4/))" in pages["labs/lab4/index.ko.md"]


def test_list_items_that_go_on_at_two_spaces_are_read_as_github_reads_them():
    readme = ["- Check your work:", "", "  ```", "  make grade lab4", "  ```", "",
              "  The grader builds.", "- To pass:", "  every gate.", "", "After the list.",
              "```", "- not an item", "  code", "```"]
    assert labdocs.indent_lists(readme) == [
        "- Check your work:", "", "    ```", "    make grade lab4", "    ```", "",
        "    The grader builds.", "", "- To pass:", "    every gate.", "", "After the list.",
        "```", "- not an item", "  code", "```"]
    four = ["- item", "", "    more of it", "- next"]
    assert labdocs.indent_lists(four) == four


def test_korean_headings_keep_their_words_in_their_ids():
    from markdown.extensions.toc import slugify as default

    assert labdocs.slugify("시작하기 전에", "-") == "시작하기-전에"
    for heading in ("4.1 — Stages and `COPY --from`", "Before you start", "ML4-SIZE: size",
                    "What it checks (and why)"):
        assert labdocs.slugify(heading, "-") == default(heading, "-")


def test_hidden_checks_are_not_shown(tmp_path):
    lab_dir = tmp_path / "labs" / "demo"
    lab_dir.mkdir(parents=True)
    (lab_dir / "README.md").write_text("# Demo\n\nIntro.\n\n## 1.1 — One\n\nDo it.\n")
    (lab_dir / "lab.yml").write_text(
        "version: 1\nid: demo\ntitle: Demo\npass_mark: 70\nexercises:\n"
        "  - id: one\n    title: '1.1 One'\n    dockerfile: one/Dockerfile\n    image: one\n"
        "    build: {points: 5}\n    checks:\n"
        "      - {kind: stages, points: 5}\n"
        "      - {kind: size, max_mb: 12, points: 7, hidden: true}\n")
    page = labdocs.lab_pages(load_lab(lab_dir / "lab.yml"), tmp_path)["labs/demo/one.md"]
    assert "ML4-STAGES" in page and "ML4-SIZE" not in page and "max_mb" not in page
    assert "its 10 points" in page
    assert "checks that are not shown here" in page


def test_a_lab_without_a_readme_gets_its_pages_all_the_same(tmp_path):
    lab_dir = tmp_path / "labs" / "bare"
    lab_dir.mkdir(parents=True)
    (lab_dir / "lab.yml").write_text(
        "version: 1\nid: bare\ntitle: A bare lab\npass_mark: 50\nexercises:\n"
        "  - id: one\n    title: One\n    dockerfile: one/Dockerfile\n    image: one\n")
    lab = load_lab(lab_dir / "lab.yml")
    pages = labdocs.lab_pages(lab, tmp_path)
    assert set(pages) == {"labs/bare/index.md", "labs/bare/one.md"}
    assert pages["labs/bare/index.md"].startswith("# A bare lab\n")
    assert pages["labs/bare/one.md"].startswith("# One\n")
    nav = labdocs.expand_nav(["labs/"], "ko", tmp_path, tmp_path / "docs")
    assert nav == [{"A bare lab": [{"시작": "labs/bare/index.md"}, "labs/bare/one.md"]}]


def test_the_navigation_leads_from_the_lab_to_its_exercises_then_the_rules(lab):
    docs = REPO / "docs"
    nav = labdocs.expand_nav(["index.md", "labs/", {"Check rules": "checks/"}], "ko", REPO,
                             docs)
    assert nav[0] == "index.md"
    assert nav[1] == {"실습 4 — 멀티 스테이지 빌드": [
        {"시작": "labs/lab4/index.md"},
        *[f"labs/lab4/{exercise.id}.md" for exercise in lab.exercises]]}
    rules = nav[2]["Check rules"]
    assert rules[0] == "checks/index.md"
    assert set(rules) == {f"checks/{path.name}" for path in (docs / "checks").glob("*.md")}
    english = labdocs.expand_nav(nav, "en", REPO, docs)  # remade for each language's build
    assert list(english[1]) == ["Lab 4 — Multi-stage builds"]
    assert english[1]["Lab 4 — Multi-stage builds"][0] == {"Start": "labs/lab4/index.md"}


def test_the_site_is_configured_for_both_languages_and_a_published_url():
    from mkdocs.config import load_config

    config = load_config(str(REPO / "mkdocs.yml"))
    assert config.site_url == "https://dockerlab.example.edu/"
    assert config.theme["font"] is False  # no fonts fetched from Google
    i18n = config.plugins["i18n"].config
    assert [(lang.locale, lang.default) for lang in i18n.languages] == [("en", True),
                                                                      ("ko", False)]
    assert i18n.fallback_to_default is True
    assert "ko" in config.plugins["material/search"].config.lang


# --- the reports' links -------------------------------------------------------------------

def a_result() -> CheckResult:
    return CheckResult("ML4-SIZE", "final image ≤ 30 MB", "lab", Status.FAILED, 0, 5,
                       "The image is 736.2 MB.")


def test_reports_link_to_the_file_in_the_repository_by_default(monkeypatch):
    monkeypatch.delenv("DOCKERLAB_DOCS_URL", raising=False)
    assert a_result().docs_page == "docs/checks/ML4-SIZE.md"
    assert a_result().to_dict()["docs"] == "docs/checks/ML4-SIZE.md"
    monkeypatch.setenv("DOCKERLAB_DOCS_URL", "  ")
    assert docs_page("ML4-SIZE") == "docs/checks/ML4-SIZE.md"


@pytest.mark.parametrize("base", ["https://dockerlab.example.edu/",
                                  "https://dockerlab.example.edu"])
def test_reports_link_to_the_published_page_when_a_base_url_is_set(monkeypatch, base):
    monkeypatch.setenv("DOCKERLAB_DOCS_URL", base)
    page = "https://dockerlab.example.edu/checks/ML4-SIZE/"
    assert a_result().docs_page == page
    assert a_result().to_dict()["docs"] == page


def a_lab_result() -> LabResult:
    return LabResult(lab="lab4", title="Lab 4", submission="labs/lab4", pass_mark=70,
                     exercises=[ExerciseResult("lab", "4.6 Lab", "lab4-greeter", [a_result()])])


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_that_links_a_rule_links_the_published_page(monkeypatch, fmt):
    monkeypatch.delenv("DOCKERLAB_DOCS_URL", raising=False)
    local = render(a_lab_result(), fmt)
    monkeypatch.setenv("DOCKERLAB_DOCS_URL", "https://dockerlab.example.edu/")
    published = render(a_lab_result(), fmt)
    if "docs/checks/ML4-SIZE.md" in local:
        assert "docs/checks/ML4-SIZE.md" not in published
        assert "https://dockerlab.example.edu/checks/ML4-SIZE/" in published
    else:  # a format that names no rule's page names none either way
        assert "dockerlab.example.edu" not in published


def test_the_terminal_report_links_the_published_page(monkeypatch):
    monkeypatch.setenv("DOCKERLAB_DOCS_URL", "https://dockerlab.example.edu/")
    assert "https://dockerlab.example.edu/checks/ML4-SIZE/" in render(a_lab_result(), "terminal")


def test_the_published_link_is_a_page_of_the_built_site(monkeypatch):
    """`<base>/checks/<rule>/` is where mkdocs puts docs/checks/<rule>.md."""
    monkeypatch.setenv("DOCKERLAB_DOCS_URL", "https://dockerlab.example.edu/")
    site = built_site()
    for page in (REPO / "docs" / "checks").glob("ML4-*.md"):
        path = docs_page(page.stem).removeprefix("https://dockerlab.example.edu/")
        assert (site / path / "index.html").is_file(), path


# --- the Must-show test: the built pages against lab.yml ----------------------------------

class Tables(HTMLParser):
    """The rows of each table after the element with id="grading": cells as text, `<br>`
    as a new line."""

    def __init__(self):
        super().__init__()
        self.after_grading = False
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None
        self.title = ""
        self.in_h1 = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id") == "grading":
            self.after_grading = True
        if tag == "h1":
            self.in_h1 = True
        if not self.after_grading:
            return
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.cell = []
        elif tag == "br" and self.cell is not None:
            self.cell.append("\n")

    def handle_endtag(self, tag):
        if tag == "h1":
            self.in_h1 = False
        if tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append("".join(self.cell).strip())
            self.cell = None
        if tag == "table" and self.after_grading and self.rows:
            self.after_grading = False  # the first table after the heading only

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)
        if self.in_h1:
            self.title += data


def raw_exercises() -> dict[str, dict]:
    """lab.yml as written, to compare with what the pages say without the spec's help."""
    raw = YAML(typ="safe").load(LAB_YML.read_text(encoding="utf-8"))
    return {exercise["id"]: exercise for exercise in raw["exercises"]}


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_exercise_page_shows_the_points_and_budgets_of_lab_yml(lab, language):
    site = built_site()
    raw = raw_exercises()
    prefix = "" if language == "en" else f"{language}/"
    for exercise in lab.exercises:
        html = (site / f"{prefix}labs/lab4/{exercise.id}" / "index.html").read_text("utf-8")
        tables = Tables()
        tables.feed(html)
        header, *rows = tables.rows
        assert len(header) == 5, header
        # the checks a learner sees: a hidden one is the instructor's, and not on the site
        checks = [check for check in exercise.all_checks() if not check.hidden]
        assert [row[0] for row in rows] == [check.rule_id for check in checks], exercise.id
        # points and gates as lab.yml gives them: `build:`, `run:`, then `checks:`
        written = raw[exercise.id]
        written["checks"] = [check for check in written["checks"] if not check.get("hidden")]
        raw_points = [written.get("build", {}).get("points", 10)]
        raw_required = [written.get("build", {}).get("required", False)]
        if "run" in written:
            raw_points.append(written["run"].get("points", 10))
            raw_required.append(written["run"].get("required", False))
        raw_points += [check.get("points", 0) for check in written["checks"]]
        raw_required += [check.get("required", False) for check in written["checks"]]
        assert [float(row[2]) for row in rows] == raw_points, exercise.id
        assert [row[3] != "—" for row in rows] == raw_required, exercise.id
        # budgets: the size budget, the build's time-out, the readiness time-out
        budgets = {row[0]: row[4] for row in rows}
        for check in written["checks"]:
            if "max_mb" in check:
                assert f"max_mb {check['max_mb']:g} MB" in budgets["ML4-SIZE"], exercise.id
        assert f"build.timeout_s {exercise.build.timeout_s:g} s" in budgets["ML4-BUILD"]
        if "run" in written:
            ready = written["run"].get("ready", {}).get("timeout_s", exercise.run.ready.timeout_s)
            assert f"run.ready.timeout_s {ready:g} s" in budgets["ML4-RUN"], exercise.id
        # the total and the pass mark
        total = sum(raw_points)
        text = re.sub(r"<[^>]+>", "", html)
        assert f"{total:g}" in text and f"{total * lab.pass_mark / 100:g}" in text, exercise.id
        assert f"{exercise.deadline_s:g}" in text


def test_the_lab4_size_budgets_are_30_mb_on_the_site():
    """A fixed point, in case both lab.yml and the pages went wrong the same way."""
    site = built_site()
    for exercise in ("image-gallery", "lab"):
        for prefix in ("", "ko/"):
            html = (site / f"{prefix}labs/lab4/{exercise}/index.html").read_text("utf-8")
            assert "<code>max_mb</code> 30 MB" in html


@pytest.mark.parametrize("language, page", [("en", "labs/lab4/index.md"),
                                            ("ko", "labs/lab4/index.ko.md")])
def test_each_start_page_links_its_languages_notebook_which_the_site_carries(
        pages, language, page):
    assert f"../../notebooks/lab4-{language}.ipynb" in pages[page]
    site = built_site()
    carried = site / "notebooks" / f"lab4-{language}.ipynb"
    assert carried.read_bytes() == (REPO / "notebooks" / f"lab4.{language}.ipynb").read_bytes()
