"""`dockerlab notebook LAB`: one Jupyter notebook per lab and language, written with nbformat.

The lab's README (`README.md`: English, `README.<lang>.md`: that language) gives the
markdown, one cell per `##` section; `lab.yml` gives the code, so nothing is typed twice:
each exercise's build, run and grade commands follow its section as `%%bash` cells (a
failing command fails its cell), and a last Python cell grades the lab and shows the result
table (`grade_and_show`, below).

Where it runs: Jupyter starts a notebook's kernel in the notebook's folder, so the first code
cell after the parameters moves to the repository root (the nearest folder up that holds the
lab's `lab.yml`); the notebook works opened from the repository or from `notebooks/`. The
parameters cell (tag `parameters`, papermill's convention) names the graded folder
(`SUBMISSION`) and a `TAG_PREFIX` for image tags, container and network names (empty: the
chapter's names, or `$DOCKERLAB_TAG_PREFIX`, which `dockerlab grade --tag-prefix` reads too).

Reproducible: no timestamps, no versions, cell ids derived from each cell's position and
source, and nbformat's own writer (sorted keys): the same README and lab.yml give the same
bytes. `make notebooks` rewrites `notebooks/`; a unit test checks the committed ones are current.
"""

from __future__ import annotations

import copy
import hashlib
import html
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.files import write_atomically
from grader.readme import DEFAULT_LANGUAGE, readme_paths
from grader.readme import split_sections as readme_sections
from grader.results import shown_percent
from grader.spec import ExerciseSpec, LabSpec

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}

# The words the notebook adds to the README's, in each language a README is written in.
TEXT: dict[str, dict[str, str]] = {
    "en": {
        "how": "*This notebook is generated from `{readme}` and `lab.yml` by "
               "`dockerlab notebook {lab}`; edit those, not this. Run its cells from the top: "
               "the first code cell moves to the repository root, so it works opened from the "
               "repository or from `notebooks/`. The `%%bash` cells need Docker and a shell; "
               "the kernel is the project's Python (`make venv`).*",
        "parameters": "Parameters (cell tag `parameters`: papermill and the tests put their "
                      "own values in a cell after it)",
        "submission": "your Dockerfiles' folder, from the repository root",
        "prefix": 'before image tags, container and network names; "": the chapter\'s names '
                  "(or $DOCKERLAB_TAG_PREFIX)",
        "root": "Work from the repository root, wherever Jupyter started this notebook.",
        "no_root": "no folder above {cwd} holds {marker}: open this notebook inside the repository",
        "environment": "What the shell cells read; `dockerlab` is the one beside this kernel's "
                       "Python. `dockerlab grade` reads DOCKERLAB_TAG_PREFIX as its --tag-prefix.",
        "prepare": "The base images (used, pulled or built offline) and the chapter's network",
        "build": "Build {exercise}: the command above, with your folder and the tag prefix",
        "run_once": "Run it: the container prints and exits",
        "run": "Run it, wait until it answers (up to {timeout} s), then call it as the checks do",
        "grade": "Grade this exercise alone (exit code 1, below the pass mark, is a result, "
                 "not an error)",
        "cleanup": "Remove this notebook's containers and network (the images stay: they keep "
                   "the build cache warm for grading)",
        "grade_heading": "## Grade the lab\n\nThe last cell grades every exercise of "
                         "`SUBMISSION` as `make grade {lab}` does and shows the result: each "
                         "exercise's score and, for every check that did not pass, what it "
                         "found and how to fix it. `result` then holds the JSON result "
                         "(`dockerlab grade --format json`).",
        "grade_all": "Grade the whole lab and show the result table",
        "exercise": "exercise",
        "points": "points",
        "result": "result",
        "passed": "PASSED",
        "failed": "FAILED",
        "check": "check",
        "what": "what it found",
        "fix": "how to fix",
        "required": "required",
        "all_passed": "Every check passed.",
        "score": "Score {points}/{max_points} ({percent}) — pass mark {pass_mark}%: {verdict}",
        "cannot_grade": "dockerlab grade could not run (exit code {code})",
    },
    "ko": {
        "how": "*이 노트북은 `{readme}`와 `lab.yml`로 `dockerlab notebook {lab}` 명령이 만든 것이다. "
               "고칠 것은 이 노트북이 아니라 그 두 파일이다. 셀은 위에서부터 차례로 실행한다. "
               "첫 코드 셀이 저장소 최상위 폴더로 옮겨 가므로 저장소에서 열든 `notebooks/`에서 "
               "열든 동작한다. `%%bash` 셀에는 도커와 셸이 필요하고, 커널은 이 프로젝트의 "
               "파이썬(`make venv`)이다.*",
        "parameters": "매개변수(셀 태그 `parameters`: papermill과 테스트는 이 셀 뒤의 셀에 자기 "
                      "값을 넣는다)",
        "submission": "여러분의 Dockerfile이 있는 폴더(저장소 최상위 폴더 기준)",
        "prefix": '이미지 태그, 컨테이너·네트워크 이름 앞에 붙는다. "": 책의 이름 그대로'
                  "($DOCKERLAB_TAG_PREFIX가 있으면 그 값)",
        "root": "Jupyter가 이 노트북을 어디서 시작했든 저장소 최상위 폴더에서 실행한다.",
        "no_root": "{cwd} 위의 어느 폴더에도 {marker} 파일이 없다. 저장소 안에서 이 노트북을 열자",
        "environment": "셸 셀이 읽는 값. `dockerlab`은 이 커널의 파이썬 옆에 설치된 것을 쓴다. "
                       "`dockerlab grade`는 DOCKERLAB_TAG_PREFIX를 --tag-prefix로 읽는다.",
        "prepare": "기반 이미지(있으면 쓰고, 없으면 내려받거나 오프라인으로 빌드)와 이 장의 네트워크",
        "build": "{exercise} 빌드: 위의 명령과 같되, 여러분의 폴더와 태그 접두어를 쓴다",
        "run_once": "실행: 컨테이너가 출력하고 끝난다",
        "run": "실행하고, 응답할 때까지(최대 {timeout}초) 기다린 뒤, 검사처럼 호출해 본다",
        "grade": "이 연습만 채점(종료 코드 1은 통과 기준 미달이라는 결과일 뿐 오류가 아니다)",
        "cleanup": "이 노트북의 컨테이너와 네트워크를 지운다(이미지는 채점할 때 빌드 캐시를 "
                   "살리도록 남긴다)",
        "grade_heading": "## 실습 채점\n\n마지막 셀은 `make grade {lab}`처럼 `SUBMISSION`의 "
                         "모든 연습을 채점하고 결과를 보여 준다. 연습마다 점수를, 통과하지 못한 "
                         "검사마다 무엇을 찾았고 어떻게 고치면 되는지를 보여 준다. 그 뒤 "
                         "`result`에는 JSON 결과(`dockerlab grade --format json`)가 들어 있다.",
        "grade_all": "실습 전체를 채점하고 결과 표를 보여 준다",
        "exercise": "연습",
        "points": "점수",
        "result": "결과",
        "passed": "통과",
        "failed": "실패",
        "check": "검사",
        "what": "찾은 것",
        "fix": "고치는 방법",
        "required": "필수",
        "all_passed": "모든 검사를 통과했다.",
        "score": "점수 {points}/{max_points} ({percent}) — 통과 기준 {pass_mark}%: {verdict}",
        "cannot_grade": "dockerlab grade를 실행할 수 없었다(종료 코드 {code})",
    },
}

HEADING = re.compile(r"^##\s+(.*)$")
NUMBER = re.compile(r"^(\d+(?:\.\d+)+)\b")
LINK = re.compile(r"(\]\()([^)\s]+)(\))")


@dataclass(frozen=True)
class Readme:
    language: str
    path: Path


def readmes(lab: LabSpec) -> list[Readme]:
    """The lab's READMEs in the languages the notebooks have words for, by file name."""
    found = [Readme(language, path) for language, path in readme_paths(lab.lab_dir).items()
             if language in TEXT]
    return sorted(found, key=lambda readme: readme.path.name)


def notebook_name(lab: LabSpec, language: str) -> str:
    return f"{lab.id}.{language}.ipynb"


def write_notebooks(lab: LabSpec, out: Path) -> list[Path]:
    """Write one notebook per README of the lab into `out`; returns their paths."""
    written = []
    for readme in readmes(lab):
        path = out / notebook_name(lab, readme.language)
        write_atomically(path, render(lab, readme, out))
        written.append(path)
    return written


def render(lab: LabSpec, readme: Readme, out: Path) -> str:
    """The notebook file's text, as `nbformat.write` writes it."""
    notebook = build_notebook(lab, readme, out)
    nbformat.validate(notebook)
    text = nbformat.writes(notebook)
    return text if text.endswith("\n") else text + "\n"


# -- the notebook ------------------------------------------------------------------------


def build_notebook(lab: LabSpec, readme: Readme, out: Path) -> nbformat.NotebookNode:
    words = TEXT[readme.language]
    root = repository_root(lab)
    out = out.resolve()
    lab_folder = relative(lab.lab_dir, root)
    sections = split_sections(rewrite_links(readme.path.read_text(encoding="utf-8"), lab, out))
    by_section = match_exercises(lab, sections)
    placed = {exercise.id for exercise in by_section.values()}

    cells: list[tuple[str, str, list[str]]] = []  # (cell type, source, tags)

    def markdown(source: str) -> None:
        cells.append(("markdown", source, []))

    def code(source: str, tags: list[str] | None = None) -> None:
        cells.append(("code", source, tags or []))

    markdown(sections[0])
    markdown(words["how"].format(readme=relative(readme.path, root), lab=lab.id))
    code(parameters_cell(lab_folder, words), [PARAMETERS_TAG])
    code(setup_cell(lab, relative(lab.source, root), words))
    prepared = False
    for index, section in enumerate(sections[1:], start=1):
        exercise = by_section.get(index)
        if exercise is not None and not prepared:
            code(prepare_cell(words))
            prepared = True
        markdown(section)
        if exercise is not None:
            for source in exercise_cells(lab, exercise, root, words):
                code(source)
    for exercise in lab.exercises:
        if exercise.id not in placed:  # no README section names it: its own heading
            if not prepared:
                code(prepare_cell(words))
                prepared = True
            markdown(f"## {exercise.title}")
            for source in exercise_cells(lab, exercise, root, words):
                code(source)
    code(cleanup_cell(lab, words))
    markdown(words["grade_heading"].format(lab=lab.id))
    code(grade_cell(lab, readme.language, words))

    notebook = new_notebook(metadata={
        "kernelspec": dict(KERNELSPEC),
        "language_info": {"name": "python"},
        "dockerlab": {
            "lab": lab.id,
            "language": readme.language,
            "generated_from": [relative(readme.path, root), relative(lab.source, root)],
        },
    })
    for position, (cell_type, source, tags) in enumerate(cells):
        metadata = {"tags": tags} if tags else {}
        make = new_markdown_cell if cell_type == "markdown" else new_code_cell
        notebook.cells.append(make(source, id=cell_id(position, cell_type, source),
                                   metadata=metadata))
    return notebook


def cell_id(position: int, cell_type: str, source: str) -> str:
    """A fixed id (nbformat 4.5 requires one): from the cell's position, type and source."""
    digest = hashlib.sha256(f"{position}\n{cell_type}\n{source}".encode()).hexdigest()
    return f"{cell_type[:2]}-{digest[:16]}"


def repository_root(lab: LabSpec) -> Path:
    """The folder the notebook works from: the one holding `labs/<lab>/`."""
    return lab.lab_dir.parent.parent


def relative(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def split_sections(text: str) -> list[str]:
    """The README cut before each `##` heading outside code blocks; [0] is what comes first."""
    return ["\n".join(section.lines).strip("\n") for section in readme_sections(text)]


def match_exercises(lab: LabSpec, sections: list[str]) -> dict[int, ExerciseSpec]:
    """Which section each exercise follows: the one whose heading starts with the number its
    title starts with ("## 4.2 — Java" for "4.2 Java: …"), else the first naming its id."""
    headings = {index: HEADING.match(section.splitlines()[0]).group(1)
                for index, section in enumerate(sections)
                if index and section and HEADING.match(section.splitlines()[0])}
    found: dict[int, ExerciseSpec] = {}
    for exercise in lab.exercises:
        number = NUMBER.match(exercise.title)
        for index, heading in headings.items():
            heading_number = NUMBER.match(heading)
            if index in found:
                continue
            if number and heading_number and number.group(1) == heading_number.group(1):
                found[index] = exercise
                break
        else:
            for index, heading in headings.items():
                if index not in found and re.search(rf"(?<![\w-]){re.escape(exercise.id)}(?![\w-])",
                                                    heading):
                    found[index] = exercise
                    break
    return found


def rewrite_links(text: str, lab: LabSpec, out: Path) -> str:
    """Links relative to the lab folder, made relative to the notebooks' folder; a link to
    one of the lab's READMEs goes to that language's notebook."""
    notebooks = {readme.path.name: notebook_name(lab, readme.language) for readme in readmes(lab)}

    def fix(match: re.Match) -> str:
        target = match.group(2)
        path, _, anchor = target.partition("#")
        if not path or "://" in path or path.startswith(("/", "mailto:")):
            return match.group(0)
        if path in notebooks:
            new = notebooks[path]
        else:
            new = relative(lab.lab_dir / path, out)
        return f"{match.group(1)}{new}{'#' + anchor if anchor else ''}{match.group(3)}"

    return LINK.sub(fix, text)


# -- code cells ----------------------------------------------------------------------------


def comment(text: str) -> str:
    return f"# {text}"


def parameters_cell(lab_folder: str, words: dict[str, str]) -> str:
    return "\n".join([
        comment(words["parameters"]),
        f"SUBMISSION = {json.dumps(lab_folder)}  # {words['submission']}",
        f'TAG_PREFIX = ""  # {words["prefix"]}',
    ])


def setup_cell(lab: LabSpec, marker: str, words: dict[str, str]) -> str:
    no_root = words["no_root"].format(cwd="{Path.cwd()}", marker=marker)
    return "\n".join([
        "import os",
        "import sys",
        "from pathlib import Path",
        "",
        comment(words["root"]),
        "ROOT = next((folder for folder in [Path.cwd(), *Path.cwd().parents]",
        f"             if (folder / {json.dumps(marker)}).is_file()), None)",
        "if ROOT is None:",
        f"    raise FileNotFoundError(f{json.dumps(no_root, ensure_ascii=False)})",
        "os.chdir(ROOT)",
        comment(words["environment"]),
        'TAG_PREFIX = TAG_PREFIX or os.environ.get("DOCKERLAB_TAG_PREFIX", "")',
        "os.environ.update(",
        f'    SUBMISSION=SUBMISSION, DOCKERLAB_TAG_PREFIX=TAG_PREFIX, NETWORK=TAG_PREFIX + '
        f'{json.dumps(lab.network)},',
        '    PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"],',
        ")",
        'print(f"repository: {ROOT}\\nsubmission: {SUBMISSION}\\ntag prefix: {TAG_PREFIX!r}")',
    ])


def bash(lines: list[str]) -> str:
    return "\n".join(["%%bash", *lines])


def prefixed(name: str) -> str:
    """A tag or container name with the notebook's prefix, quoted for bash."""
    return f'"${{DOCKERLAB_TAG_PREFIX}}{name}"'


def prepare_cell(words: dict[str, str]) -> str:
    return bash([
        comment(words["prepare"]),
        "dockerlab images --ensure",
        'docker network inspect "$NETWORK" >/dev/null 2>&1 || docker network create "$NETWORK"',
    ])


def exercise_cells(lab: LabSpec, exercise: ExerciseSpec, root: Path,
                   words: dict[str, str]) -> list[str]:
    cells = [build_cell(lab, exercise, root, words)]
    run = run_cell(exercise, words)
    if run:
        cells.append(run)
    cells.append(bash([
        comment(words["grade"]),
        f'dockerlab grade {lab.id} {exercise.id} --path "$SUBMISSION" --quiet || [ $? -eq 1 ]',
    ]))
    return cells


def build_cell(lab: LabSpec, exercise: ExerciseSpec, root: Path, words: dict[str, str]) -> str:
    dockerfile = f'"$SUBMISSION/{exercise.dockerfile}"'
    if exercise.context is None:  # the Dockerfile's folder in the submission
        folder = Path(exercise.dockerfile).parent.as_posix()
        context = '"$SUBMISSION"' if folder == "." else f'"$SUBMISSION/{folder}"'
    else:  # relative to the lab folder, whatever folder is graded
        context = shlex.quote(relative(lab.lab_dir / exercise.context, root))
    command = ["docker build", f"-t {prefixed(exercise.image)}", f"-f {dockerfile}"]
    if exercise.build.target:
        command.append(f"--target {shlex.quote(exercise.build.target)}")
    for name, value in exercise.build.build_args.items():
        command.append(f"--build-arg {shlex.quote(f'{name}={value}')}")
    command.append(context)
    return bash([comment(words["build"].format(exercise=short_name(exercise))), " ".join(command)])


def short_name(exercise: ExerciseSpec) -> str:
    """"4.2" for "4.2 Java: …", else the exercise's id."""
    number = NUMBER.match(exercise.title)
    return number.group(1) if number else exercise.id


def run_cell(exercise: ExerciseSpec, words: dict[str, str]) -> str | None:
    visible = [check for check in exercise.checks if not getattr(check, "hidden", False)]
    run = exercise.run
    if run is None:
        if any(check.kind == "output" for check in visible):
            return bash([comment(words["run_once"]),
                         f'docker run --rm --network "$NETWORK" {prefixed(exercise.image)}'])
        return None
    name = prefixed(run.name)
    options = [f"--name {name}", '--network "$NETWORK"']
    options += [f"--network-alias {shlex.quote(alias)}" for alias in [run.name, *run.aliases]]
    options += [f"-p {outside}:{inside}" for inside, outside in run.ports.items()]
    options += [f"-e {shlex.quote(f'{key}={value}')}" for key, value in run.env.items()]
    lines = [
        comment(words["run"].format(timeout=f"{run.ready.timeout_s:g}")),
        "set -e",
        f"docker rm -f {name} >/dev/null 2>&1 || true",
        f"docker run -d {' '.join(options)} {prefixed(exercise.image)}",
    ]
    ready_port = run.ports.get(run.ready.port)
    if run.ready.path and ready_port:
        url = shlex.quote(f"http://localhost:{ready_port}{run.ready.path}")
        lines.append(f"for second in $(seq {max(1, round(run.ready.timeout_s))}); do "
                     f"curl -s -o /dev/null {url} && break; sleep 1; done")
        lines.append(f"curl -s -o /dev/null -w 'GET {run.ready.path} → %{{http_code}}\\n' {url}")
    else:
        lines.append("sleep 2")
        lines.append(f"docker ps --filter name={name} --format '{{{{.Names}}}}: {{{{.Status}}}}'")
    for check in visible:
        if check.kind == "http" and check.port in run.ports:
            lines.append(curl(check, run.ports[check.port]))
    return bash(lines)


def curl(check: Any, host_port: int) -> str:
    """The chapter's `curl` for an HTTP check, showing the status after the body."""
    parts = ["curl -s"]
    if check.method != "GET":
        parts.append(f"-X {check.method}")
    if check.json_body is not None:
        parts.append("-H 'Content-Type: application/json'")
        parts.append(f"-d {shlex.quote(json.dumps(check.json_body, ensure_ascii=False))}")
    elif check.body is not None:
        parts.append(f"-d {shlex.quote(check.body)}")
    parts.append("-w '\\n→ HTTP %{http_code}\\n'")
    parts.append(shlex.quote(f"http://localhost:{host_port}{check.path}"))
    return " ".join(parts)


def cleanup_cell(lab: LabSpec, words: dict[str, str]) -> str:
    names = [prefixed(exercise.run.name) for exercise in lab.exercises if exercise.run]
    lines = [comment(words["cleanup"])]
    if names:
        lines.append(f"docker rm -f {' '.join(names)} || true")
    lines.append('docker network rm "$NETWORK" || true')
    return bash(lines)


def grade_cell(lab: LabSpec, language: str, words: dict[str, str]) -> str:
    return "\n".join([
        comment(words["grade_all"]),
        "from grader.notebook import grade_and_show",
        "",
        f"result = grade_and_show({json.dumps(lab.id)}, SUBMISSION, language={json.dumps(language)})",
    ])


# -- running a notebook ------------------------------------------------------------------


def inject_parameters(notebook: nbformat.NotebookNode, **values: Any) -> nbformat.NotebookNode:
    """A copy of `notebook` with a cell setting `values` after its parameters cell (what
    papermill does): the notebook's own defaults stay visible above it."""
    notebook = copy.deepcopy(notebook)
    position = next((index for index, cell in enumerate(notebook.cells)
                     if PARAMETERS_TAG in cell.get("metadata", {}).get("tags", [])), None)
    if position is None:
        raise ValueError("the notebook has no cell tagged 'parameters'")
    source = "\n".join(f"{name} = {value!r}" for name, value in values.items())
    injected = new_code_cell(source, id=cell_id(position, "injected", source),
                             metadata={"tags": [INJECTED_TAG]})
    notebook.cells.insert(position + 1, injected)
    return notebook


class GradingError(RuntimeError):
    """`dockerlab grade` could not run (its exit code 2): the message and hint it gave."""


def grade_and_show(lab: str, submission: str | Path, language: str = DEFAULT_LANGUAGE,
                   exercises: tuple[str, ...] = ()) -> dict:
    """Grade `submission` with `dockerlab grade LAB --format json` (as `make grade` does; the
    tag prefix from DOCKERLAB_TAG_PREFIX), show the result table and return the JSON result."""
    words = TEXT.get(language, TEXT[DEFAULT_LANGUAGE])
    command = [sys.executable, "-m", "grader", "grade", lab, *exercises,
               "--path", str(submission), "--format", "json", "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, encoding="utf-8")
    try:
        output, errors = process.communicate()
    except KeyboardInterrupt:  # the kernel was interrupted: the grader cleans up, as on Ctrl-C
        process.terminate()
        process.communicate()
        raise
    if process.returncode not in (0, 1):
        raise GradingError(f"{words['cannot_grade'].format(code=process.returncode)}:\n"
                           f"{errors.strip()}")
    result = json.loads(output)
    show(result_bundle(result, language))
    return result


def show(bundle: dict[str, str]) -> None:
    try:
        from IPython.display import display
    except ImportError:  # a plain Python: the text
        print(bundle["text/plain"])
        return
    display(bundle, raw=True)


def result_bundle(result: dict, language: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    """The result as HTML (Jupyter), markdown and plain text (any other front end)."""
    words = TEXT.get(language, TEXT[DEFAULT_LANGUAGE])
    rows = [(exercise["title"], f"{exercise['score']:g}/{exercise['max_score']:g}",
             shown_percent(exercise["percent"]),
             words["passed"] if exercise["passed"] else words["failed"])
            for exercise in result["exercises"]]
    header = (words["exercise"], words["points"], "%", words["result"])
    problems = [(check["exercise"], check["rule_id"],
                 check["title"] + (f" ({words['required']})" if check["required"] else ""),
                 check["what"], check["fix"])
                for exercise in result["exercises"] for check in exercise["checks"]
                if check["status"] in ("failed", "skipped") and (check["max_points"]
                                                                 or check["required"])]
    problem_header = (words["exercise"], "rule", words["check"], words["what"], words["fix"])
    score = words["score"].format(
        points=f"{result['score']:g}", max_points=f"{result['max_score']:g}",
        percent=shown_percent(100.0 * result["score"] / result["max_score"]
                              if result["max_score"] else 0.0),
        pass_mark=f"{result['pass_mark']:g}",
        verdict=words["passed"] if result["passed"] else words["failed"])
    reasons = result.get("verdict", {}).get("reasons", [])
    title = f"{result['title']} — {result['submission']}"

    plain = [title, *text_table(header, rows), ""]
    if problems:
        plain += [f"{rule} {exercise}: {check}\n    {what}" + (f"\n    → {fix}" if fix else "")
                  for exercise, rule, check, what, fix in problems]
    else:
        plain.append(words["all_passed"])
    plain += ["", *(f"- {reason}" for reason in reasons), score]

    markdown = [f"**{md(title)}**", "", *md_table(header, rows), ""]
    markdown += [*md_table(problem_header, problems), ""] if problems else [words["all_passed"], ""]
    markdown += [*(f"- {md(reason)}" for reason in reasons), f"**{md(score)}**"]

    page = [f"<p><strong>{html.escape(title)}</strong></p>", html_table(header, rows)]
    page.append(html_table(problem_header, problems) if problems
                else f"<p>{html.escape(words['all_passed'])}</p>")
    if reasons:
        page.append("<ul>" + "".join(f"<li>{html.escape(r)}</li>" for r in reasons) + "</ul>")
    page.append(f"<p><strong>{html.escape(score)}</strong></p>")
    return {"text/plain": "\n".join(plain), "text/markdown": "\n".join(markdown),
            "text/html": "\n".join(page)}


def text_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(str(row[column])) for row in [header, *rows])
              for column in range(len(header))]
    return ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in [header, *rows]]


def md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def md_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    return [f"| {' | '.join(md(cell) for cell in row)} |"
            for row in [header, tuple("---" for _ in header), *rows]]


def html_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    head = "".join(f"<th>{html.escape(str(cell))}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row)
                   + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
