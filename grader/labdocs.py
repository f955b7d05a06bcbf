"""The labs on the docs site, rendered while mkdocs builds it: nothing is generated into the
repository, so nothing can go stale and nothing is typed twice.

mkdocs.yml names this file under `hooks:`. For each lab (`labs/*/lab.yml`) and each language
it has a README for (`README.md` is English, `README.<lang>.md` the others, e.g. `README.ko.md`)
it adds, as pages the build reads from here instead of from `docs/`:

- `labs/<lab>/index[.<lang>].md`, the start page: the README up to its first exercise
  section, and the list of exercises with their points and required checks;
- `labs/<lab>/<exercise>[.<lang>].md`, one page per exercise: the README's section whose
  heading starts with the exercise's number (`## 4.1 — …` for `title: "4.1 …"`), the
  sections after it that are no exercise's (`4.5 — Why bother?`), and its grading from
  `lab.yml` through `grader.spec.load_lab`: each check with its rule's page, points,
  required or not, and its budgets and time-outs (`max_mb`, `timeout_s`, …).

The start page and the exercise pages, read in the lab's order, hold the whole README once.
Pages of a language the lab has no README for are not made: mkdocs-static-i18n shows the
English one. Links the README makes into the repository (`[solution/](solution)`) become
links to `repo_url` when mkdocs.yml sets one, and plain text otherwise; its link to the other
language's README becomes a link to that language's page.

The navigation (`nav:` in mkdocs.yml) may name, instead of pages, `labs/` (each lab as a
section: its start page, then its exercises in the lab's order) and `<folder>/` (the folder's
`index.md`, then its other pages by name), so pages added later are in it without a change
here. `python -m grader.labdocs OUT` writes the pages into OUT to read them.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader.notebook import notebook_name, repository_root
from grader.readme import (
    DEFAULT_LANGUAGE,
    FENCE,
    HEADING,
    NUMBER,
    Section,
    readme_paths,
    split_sections,
)
from grader.spec import ExerciseSpec, LabSpec, load_lab

NOTEBOOKS = "notebooks"  # the repository's folder of lab notebooks (grader/notebook.py)

# What the pages say around the README's text, per language; a language without labels
# here gets no pages of its own (it falls back to English).
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "start": "Start",
        "exercises": "Exercises",
        "exercise": "exercise",
        "points": "points",
        "required": "required",
        "required checks": "required checks",
        "grading": "Grading",
        "rule": "rule",
        "check": "check",
        "budget": "budget, time-out",
        "yes": "yes",
        "grading intro": "What `make grade {lab}` checks for this exercise (`{exercise}` in "
                         "`labs/{lab}/lab.yml`: “{title}”). Your Dockerfile is "
                         "`labs/{lab}/{dockerfile}`; the image is tagged `{image}`.",
        "pass": "To pass it, every required check must pass, whatever the score, and it must "
                "score at least {pass_mark:g} % of its {points:g} points ({needed:g}).",
        "deadline": "The whole exercise — build, run and checks — may take at most "
                    "{deadline_s:g} s (`deadline_s`).",
        "hidden": "Your instructor may also run checks that are not shown here.",
        "rules": "Each rule's page says what it checks, why, and how to fix a failure: "
                 "[Check rules]({checks}).",
        "notebook": "The same lab as a Jupyter notebook, to run cell by cell: "
                    "[{name}]({notebook}) (`dockerlab notebook` writes it; see "
                    "notebooks/README.md).",
        "lab intro": "The exercises, in order. Each page has the chapter's text for it and "
                     "what the grader checks: points, required checks and budgets.",
        "verdict": "Pass mark: {pass_mark:g} %. The lab's verdict: `{verdict}` "
                   "([verdict policy]({verdict_page})). Each container the grader starts "
                   "may use {memory_mb} MB of memory, {pids} processes and {cpus:g} CPU.",
    },
    "ko": {
        "start": "시작",
        "exercises": "연습",
        "exercise": "연습",
        "points": "점수",
        "required": "필수",
        "required checks": "필수 검사",
        "grading": "채점",
        "rule": "규칙",
        "check": "검사",
        "budget": "예산, 제한 시간",
        "yes": "예",
        "grading intro": "이 연습에서 채점기(`make grade {lab}`)가 검사하는 것"
                         "(`labs/{lab}/lab.yml`의 `{exercise}`: “{title}”). 여러분의 Dockerfile은 "
                         "`labs/{lab}/{dockerfile}`이고, 이미지 태그는 `{image}`이다.",
        "pass": "통과하려면 점수와 상관없이 필수 검사를 모두 통과하고, {points:g}점 중 "
                "{pass_mark:g} % 이상({needed:g}점)을 얻어야 한다.",
        "deadline": "빌드, 실행, 검사를 모두 합쳐 연습 하나에 최대 {deadline_s:g}초"
                    "(`deadline_s`)가 걸릴 수 있다.",
        "hidden": "강사는 여기에 보이지 않는 검사도 실행할 수 있다.",
        "rules": "규칙마다 무엇을, 왜 검사하고 실패하면 어떻게 고치는지 설명하는 페이지가 "
                 "있다: [검사 규칙]({checks}).",
        "notebook": "같은 실습을 셀 단위로 실행하는 Jupyter 노트북: [{name}]({notebook}) "
                    "(`dockerlab notebook`이 만든다. notebooks/README.md 참고).",
        "lab intro": "연습을 순서대로 나열했다. 각 페이지에는 해당 장의 설명과 채점기가 "
                     "검사하는 것(점수, 필수 검사, 예산)이 있다.",
        "verdict": "통과 기준: {pass_mark:g} %. 실습의 판정 방식: `{verdict}` "
                   "([판정 정책]({verdict_page})). 채점기가 띄우는 컨테이너마다 메모리 "
                   "{memory_mb} MB, 프로세스 {pids}개, CPU {cpus:g}개까지 쓸 수 있다.",
    },
}

UNITS = {"_s": "s", "_mb": "MB"}
LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")


# --- the README, split into the lab's pages ----------------------------------------------

def exercise_number(exercise: ExerciseSpec) -> str | None:
    match = NUMBER.match(exercise.title)
    return match.group(1) if match else None


def assign_sections(sections: list[Section], exercises: list[ExerciseSpec]
                    ) -> tuple[list[Section], dict[str, list[Section]]]:
    """The start page's sections, and each exercise's: the section numbered as it is, and
    those after it that are no exercise's. Sections before the first exercise's stay on the
    start page."""
    by_number = {exercise_number(exercise): exercise.id for exercise in exercises}
    by_number.pop(None, None)
    start: list[Section] = []
    pages: dict[str, list[Section]] = {exercise.id: [] for exercise in exercises}
    current: list[Section] = start
    for section in sections:
        if section.number in by_number and not pages[by_number[section.number]]:
            current = pages[by_number[section.number]]
        current.append(section)
    return start, pages


def shift_headings(lines: list[str], by: int) -> list[str]:
    """Headings outside code blocks one level up (by=-1): a section's `##` is its page's
    title."""
    shifted, fenced = [], False
    for line in lines:
        if FENCE.match(line):
            fenced = not fenced
        heading = None if fenced else HEADING.match(line)
        if heading:
            level = min(6, max(1, len(heading.group(1)) + by))
            line = f"{'#' * level} {heading.group(2)}"
        shifted.append(line)
    return shifted


def indent_lists(lines: list[str]) -> list[str]:
    """A README's lists as Python-Markdown reads them. GitHub takes a list item's text
    indented by 2 spaces (a paragraph or a code block after its first line); Python-Markdown
    wants 4, else that text ends the list. So when a README's list items go on at 2 spaces,
    their indentation is doubled (a code block in them moves with its fence)."""
    item = re.compile(r"^([-*+]|\d+\.)\s")
    two_spaces = False
    in_list = fenced = False
    for line in lines:  # does any item go on at 2 spaces?
        if FENCE.match(line):
            fenced = not fenced
        if item.match(line) and not fenced:
            in_list = True
        elif in_list and line.strip() and not fenced:
            indent = len(line) - len(line.lstrip(" "))
            in_list = indent > 0
            two_spaces |= indent == 2
    if not two_spaces:
        return lines
    out: list[str] = []
    # loose: the item has had a blank line, so its last paragraph would take the next item
    # in as a continuation line; a blank line before that item ends the paragraph.
    in_list = loose = False
    fence: int | None = None  # in a code block: how far its fence moved (-1: not in a list)
    for line in lines:
        indent = len(line) - len(line.lstrip(" "))
        if fence is not None:
            out.append(" " * max(fence, 0) + line if line.strip() else line)
            if FENCE.match(line):
                fence = None
            continue
        if item.match(line):
            if in_list and loose and out and out[-1].strip():
                out.append("")
            in_list, loose = True, False
        elif in_list and not line.strip():
            loose = True
        elif in_list:
            if indent == 0:
                in_list = False
            else:
                if FENCE.match(line):
                    fence = indent
                out.append(" " * indent + line)
                continue
        if FENCE.match(line):
            fence = -1
        out.append(line)
    return out


@dataclass(frozen=True)
class LinkContext:
    """Where a README's page sits, for its relative links: the lab folder in the repository
    (`labs/lab4`), the page's language, and the site's repository URL, if any."""

    lab_path: str
    language: str
    repo_url: str | None = None


def page_url(language: str, path: str) -> str:
    """The URL path (from the site's root) of a page in a language: mkdocs-static-i18n puts
    the default language at the root and the others under `<lang>/`."""
    return path if language == DEFAULT_LANGUAGE else f"{language}/{path}"


def rewrite_links(lines: list[str], context: LinkContext) -> list[str]:
    """Relative links of a README made right for the site (code blocks left alone)."""

    def replace(match: re.Match) -> str:
        text, target = match.group(1), match.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:|^#|^/", target):
            return match.group(0)
        path, _, anchor = target.partition("#")
        name = PurePosixPath(path).name
        readme = re.fullmatch(r"README(?:\.([a-z]{2}(?:_[A-Z]{2})?))?\.md", name)
        if readme and PurePosixPath(path).parent == PurePosixPath("."):
            # the other language's README: that language's start page
            here = page_url(context.language, f"{context.lab_path}/")
            there = page_url(readme.group(1) or DEFAULT_LANGUAGE, f"{context.lab_path}/")
            up = "../" * here.rstrip("/").count("/") + "../"
            return f"[{text}]({up}{there}{'#' + anchor if anchor else ''})"
        repository_path = normalise(f"{context.lab_path}/{path}")
        if context.repo_url and repository_path is not None:
            return f"[{text}]({context.repo_url.rstrip('/')}/tree/HEAD/{repository_path})"
        return text

    out, fenced = [], False
    for line in lines:
        if FENCE.match(line):
            fenced = not fenced
        out.append(line if fenced else LINK.sub(replace, line))
    return out


def normalise(path: str) -> str | None:
    """`labs/lab4/../../apps` → `apps`; None when it leaves the repository."""
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)


# --- the grading, from lab.yml ------------------------------------------------------------

def number(value: float) -> str:
    return f"{value:g}"


def budget_fields(model, prefix: str = "") -> list[tuple[str, float, str]]:
    """The budgets and time-outs among a model's fields, as (lab.yml key, value, unit): the
    keys ending in `_s` (seconds) and `_mb` (megabytes)."""
    found = []
    for name in type(model).model_fields:
        for suffix, unit in UNITS.items():
            if name.endswith(suffix):
                value = getattr(model, name)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    found.append((f"{prefix}{name}", value, unit))
    return found


def check_budgets(exercise: ExerciseSpec, check) -> list[tuple[str, float, str]]:
    """A check's budgets: its own parameters', and for ML4-BUILD and ML4-RUN the exercise's
    `build:` and `run.ready:` keys that configure them."""
    if check.rule_id == "ML4-BUILD":
        return budget_fields(exercise.build, "build.")
    if check.rule_id == "ML4-RUN" and exercise.run is not None:
        return budget_fields(exercise.run.ready, "run.ready.")
    return budget_fields(check)


def visible_checks(exercise: ExerciseSpec) -> list:
    """The checks a learner sees: hidden ones are the instructor's."""
    return [check for check in exercise.all_checks() if not getattr(check, "hidden", False)]


def budget_text(budgets: list[tuple[str, float, str]]) -> str:
    return "<br>".join(f"`{key}` {number(value)} {unit}" for key, value, unit in budgets) or "—"


def grading(lab: LabSpec, exercise: ExerciseSpec, language: str) -> list[str]:
    labels = LABELS[language]
    checks = visible_checks(exercise)
    points = sum(check.points for check in checks)
    lines = [
        f"## {labels['grading']} {{#grading}}",
        "",
        labels["grading intro"].format(lab=lab.id, exercise=exercise.id, title=exercise.title,
                                       dockerfile=exercise.dockerfile, image=exercise.image),
        "",
        f"| {labels['rule']} | {labels['check']} | {labels['points']} | {labels['required']} "
        f"| {labels['budget']} |",
        "| --- | --- | ---: | --- | --- |",
    ]
    for check in checks:
        title = check.display_title.replace("|", "\\|")
        lines.append(
            f"| [{check.rule_id}](../../checks/{check.rule_id}.md) | {title} "
            f"| {number(check.points)} | {labels['yes'] if check.required else '—'} "
            f"| {budget_text(check_budgets(exercise, check))} |"
        )
    lines += [
        "",
        labels["pass"].format(pass_mark=lab.pass_mark, points=points,
                              needed=round(points * lab.pass_mark / 100, 2)),
    ]
    deadline = getattr(exercise, "deadline_s", None)
    if deadline is not None:
        lines += ["", labels["deadline"].format(deadline_s=deadline)]
    if len(checks) < len(exercise.all_checks()):
        lines += ["", labels["hidden"]]
    lines += ["", labels["rules"].format(checks="../../checks/index.md")]
    return lines


def exercise_list(lab: LabSpec, titles: dict[str, str], language: str) -> list[str]:
    labels = LABELS[language]
    lines = [
        f"## {labels['exercises']} {{#exercises}}",
        "",
        labels["lab intro"],
        "",
        f"| {labels['exercise']} | {labels['points']} | {labels['required checks']} |",
        "| --- | ---: | --- |",
    ]
    for exercise in lab.exercises:
        checks = visible_checks(exercise)
        gates = ", ".join(dict.fromkeys(check.rule_id for check in checks if check.required))
        lines.append(f"| [{titles[exercise.id]}]({exercise.id}.md) "
                     f"| {number(sum(check.points for check in checks))} | {gates or '—'} |")
    limits = lab.limits
    lines += ["", labels["verdict"].format(
        pass_mark=lab.pass_mark, verdict=getattr(lab.verdict, "value", lab.verdict),
        verdict_page="../../reference/verdict.md", memory_mb=limits.memory_mb,
        pids=limits.pids, cpus=limits.cpus)]
    lines += ["", labels["rules"].format(checks="../../checks/index.md")]
    notebook = notebook_name(lab, language)
    if (repository_root(lab) / NOTEBOOKS / notebook).is_file():
        lines += ["", labels["notebook"].format(
            name=notebook, notebook=f"../../{site_notebook(lab, language)}")]
    return lines


def site_notebook(lab: LabSpec, language: str) -> str:
    """Where the site carries it: `notebooks/lab4-ko.ipynb`."""
    return f"{NOTEBOOKS}/{lab.id}-{language}.ipynb"


# --- the pages ----------------------------------------------------------------------------

def readmes(lab_dir: Path) -> dict[str, Path]:
    """The lab's READMEs by language, for the languages the pages have labels for."""
    return {language: path for language, path in readme_paths(lab_dir).items()
            if language in LABELS}


def suffixed(path: str, language: str) -> str:
    """`labs/lab4/index.md` in Korean is `labs/lab4/index.ko.md` (mkdocs-static-i18n's
    suffix layout)."""
    return path if language == DEFAULT_LANGUAGE else path.removesuffix(".md") + f".{language}.md"


def lab_title(readme: Path) -> str:
    for line in readme.read_text(encoding="utf-8").splitlines():
        heading = HEADING.match(line)
        if heading and len(heading.group(1)) == 1:
            return heading.group(2)
    return readme.parent.name


def lab_pages(lab: LabSpec, repo_root: Path, repo_url: str | None = None) -> dict[str, str]:
    """The lab's pages by their path under docs/ (`labs/lab4/multi-stage.ko.md`), as
    Markdown."""
    lab_path = lab.lab_dir.resolve().relative_to(repo_root.resolve()).as_posix()
    pages: dict[str, str] = {}
    # a lab with no README still gets its pages: its title, and the grading
    for language, readme in (readmes(lab.lab_dir) or {DEFAULT_LANGUAGE: None}).items():
        context = LinkContext(lab_path, language, repo_url)
        text = readme.read_text(encoding="utf-8") if readme else f"# {lab.title}\n"
        text = "\n".join(indent_lists(text.splitlines()))
        start, sections = assign_sections(split_sections(text), lab.exercises)
        titles = {exercise.id: (sections[exercise.id][0].heading if sections[exercise.id]
                                else exercise.title) for exercise in lab.exercises}
        base = f"labs/{lab.id}"
        start_lines = [line for section in start for line in section.lines]
        pages[suffixed(f"{base}/index.md", language)] = join(
            rewrite_links(start_lines, context) + [""] + exercise_list(lab, titles, language))
        for exercise in lab.exercises:
            # its own section's heading is the page's title; the sections after it stay
            own, *after = sections[exercise.id] or [None]
            body = (shift_headings(own.lines, -1) if own else [f"# {exercise.title}"])
            body = rewrite_links(body + [line for section in after for line in section.lines],
                                 context)
            pages[suffixed(f"{base}/{exercise.id}.md", language)] = join(
                body + [""] + grading(lab, exercise, language))
    return pages


def join(lines: list[str]) -> str:
    return "\n".join(lines).rstrip() + "\n"


def find_labs(repo_root: Path) -> list[LabSpec]:
    return [load_lab(path) for path in sorted((repo_root / "labs").glob("*/lab.yml"))]


def all_pages(repo_root: Path, repo_url: str | None = None) -> dict[str, str]:
    pages: dict[str, str] = {}
    for lab in find_labs(repo_root):
        pages.update(lab_pages(lab, repo_root, repo_url))
    return pages


# --- the navigation -----------------------------------------------------------------------

class LabSection(dict):
    """A lab's section of the navigation, made from `labs/`: remade for each language's
    build, since its titles are the language's."""

    def __init__(self, lab: LabSpec, language: str, repo_root: Path):
        readme = readmes(lab.lab_dir)
        title = lab_title(readme.get(language) or readme.get(DEFAULT_LANGUAGE)) if readme \
            else lab.title
        labels = LABELS.get(language, LABELS[DEFAULT_LANGUAGE])
        base = f"labs/{lab.id}"
        super().__init__({title: [{labels["start"]: f"{base}/index.md"}]
                          + [f"{base}/{exercise.id}.md" for exercise in lab.exercises]})
        self.lab, self.repo_root = lab, repo_root


def expand_nav(items: list, language: str, repo_root: Path, docs_dir: Path) -> list:
    expanded: list = []
    for item in items:
        if isinstance(item, LabSection):
            expanded.append(LabSection(item.lab, language, repo_root))
        elif isinstance(item, str) and item == "labs/":
            expanded += [LabSection(lab, language, repo_root) for lab in find_labs(repo_root)]
        elif isinstance(item, str) and item.endswith("/"):
            expanded += folder_pages(docs_dir, item)
        elif isinstance(item, dict):
            (title, value), = item.items()
            if value == "labs/":
                expanded += [LabSection(lab, language, repo_root) for lab in find_labs(repo_root)]
            elif isinstance(value, str) and value.endswith("/") and "://" not in value:
                expanded.append({title: folder_pages(docs_dir, value)})
            elif isinstance(value, list):
                expanded.append({title: expand_nav(value, language, repo_root, docs_dir)})
            else:
                expanded.append(item)
        else:
            expanded.append(item)
    return expanded


def folder_pages(docs_dir: Path, folder: str) -> list[str]:
    """A folder's pages: its index.md first, then the others by name; translations
    (`page.ko.md`) are not pages of their own."""
    pages = sorted(path.relative_to(docs_dir).as_posix()
                   for path in (docs_dir / folder).glob("*.md")
                   if len(path.name.split(".")) == 2)
    return sorted(pages, key=lambda page: not page.endswith("/index.md"))


def slugify(value: str, separator: str) -> str:
    """Heading ids as Python-Markdown makes them (`toc`'s default), but letters outside
    ASCII are kept: a Korean heading gets an id of its words, not `_1`."""
    value = re.sub(r"[^\w\s-]", "", unicodedata.normalize("NFC", value)).strip().lower()
    return re.sub(rf"[{separator}\s]+", separator, value)


# --- the mkdocs hook ----------------------------------------------------------------------

_pages: dict[str, str] = {}


def repo_root_of(config) -> Path:
    return Path(config.config_file_path).resolve().parent


try:  # mkdocs is a dev dependency: the module imports without it
    from mkdocs.plugins import event_priority
except ImportError:  # pragma: no cover
    def event_priority(priority):
        return lambda function: function


@event_priority(-110)  # after mkdocs-static-i18n's (-100), which sets the build's language
def on_config(config):
    if config.nav:
        language = (config.theme["language"] if "language" in config.theme else None) or DEFAULT_LANGUAGE
        config.nav = expand_nav(config.nav, language, repo_root_of(config),
                                Path(config.docs_dir))
    return config


@event_priority(50)  # before mkdocs-static-i18n sorts the files into languages
def on_files(files, config):
    from mkdocs.structure.files import File

    global _pages
    _pages = all_pages(repo_root_of(config), config.repo_url)
    for src_uri in _pages:
        # A File as if under docs/ (mkdocs-static-i18n sorts only those into languages, and
        # remakes each from its path there), whose text is read from here, not from disk.
        files.append(File(src_uri, config.docs_dir, config.site_dir, config.use_directory_urls))
    # The labs' notebooks, copied as they are for the start pages' links; named without a
    # `.ko.` suffix, which mkdocs-static-i18n would take for a page's language.
    for lab in find_labs(repo_root_of(config)):
        for language in readmes(lab.lab_dir) or {DEFAULT_LANGUAGE: None}:
            notebook = repo_root_of(config) / NOTEBOOKS / notebook_name(lab, language)
            if notebook.is_file():
                files.append(File.generated(config, site_notebook(lab, language),
                                            abs_src_path=str(notebook)))
    return files


def on_page_read_source(page, config):
    return _pages.get(page.file.src_uri)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m grader.labdocs OUT", file=sys.stderr)
        return 2
    out = Path(argv[0])
    for src_uri, content in all_pages(Path.cwd()).items():
        (out / src_uri).parent.mkdir(parents=True, exist_ok=True)
        (out / src_uri).write_text(content, encoding="utf-8")
        print(out / src_uri)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
