"""`dockerlab notebook`: the lab's notebooks validate, are byte-for-byte reproducible and
current, hold every exercise's cells and, in Korean, the Korean text; the first code cells
move to the repository root wherever the kernel starts (a real ipykernel, no engine)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader.notebook import (
    INJECTED_TAG,
    PARAMETERS_TAG,
    Readme,
    build_notebook,
    inject_parameters,
    notebook_name,
    readmes,
    render,
    result_bundle,
    write_notebooks,
)
from grader.spec import load_lab

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.fixture(scope="module")
def lab4():
    return load_lab(REPO / "labs" / "lab4" / "lab.yml")


@pytest.fixture(scope="module")
def notebooks(lab4) -> dict[str, nbformat.NotebookNode]:
    return {readme.language: build_notebook(lab4, readme, NOTEBOOKS) for readme in readmes(lab4)}


def code_cells(notebook) -> list[str]:
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def run_notebook(notebook, cwd: Path, jupyter_dir: Path, timeout: int = 600):
    """Execute `notebook` with nbclient, its kernel started in `cwd` (as Jupyter starts one
    in the notebook's folder). The kernel is this Python's ipykernel: a `python3` kernelspec
    naming sys.executable, first on JUPYTER_PATH, so no user or system kernelspec (another
    Python's, an `ipykernel install --user`) can take its place."""
    from nbclient import NotebookClient

    spec = jupyter_dir / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (dockerlab .venv)", "language": "python",
    }))
    previous = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(jupyter_dir)
    try:
        client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(cwd)}})
        return client.execute()
    finally:
        if previous is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = previous


def stream_text(cell) -> str:
    return "".join(output.get("text", "") for output in cell.outputs
                   if output.output_type == "stream")


def test_one_notebook_per_readme_language(lab4):
    assert {(readme.language, readme.path.name) for readme in readmes(lab4)} == {
        ("en", "README.md"), ("ko", "README.ko.md")}
    assert notebook_name(lab4, "ko") == "lab4.ko.ipynb"


def test_notebooks_validate(lab4, notebooks):
    for language, notebook in notebooks.items():
        nbformat.validate(notebook)
        assert (notebook.nbformat, notebook.nbformat_minor) >= (4, 5)  # cell ids required
        text = render(lab4, Readme(language, readme_path(lab4, language)), NOTEBOOKS)
        nbformat.validate(nbformat.reads(text, as_version=4))
        ids = [cell.id for cell in notebook.cells]
        assert len(set(ids)) == len(ids)
        assert notebook.metadata.kernelspec.name == "python3"


def readme_path(lab, language: str) -> Path:
    return next(readme.path for readme in readmes(lab) if readme.language == language)


def test_writing_twice_gives_identical_bytes(lab4, tmp_path):
    first = [path.read_bytes() for path in write_notebooks(lab4, tmp_path / "a")]
    second = [path.read_bytes() for path in write_notebooks(lab4, tmp_path / "a")]
    assert first == second
    # Other processes with other hash seeds, through the CLI, into a folder as deep: the same.
    for seed in ("1", "2"):
        out = tmp_path / f"seed{seed}"
        done = subprocess.run([sys.executable, "-m", "grader", "notebook", "lab4", "--out", str(out)],
                              cwd=REPO, capture_output=True, text=True,
                              env={**os.environ, "PYTHONHASHSEED": seed})
        assert done.returncode == 0, done.stderr
        assert [(out / name).read_bytes() for name in ("lab4.en.ipynb", "lab4.ko.ipynb")] \
            == [(tmp_path / "a" / name).read_bytes() for name in ("lab4.en.ipynb", "lab4.ko.ipynb")]
    text = first[0].decode()
    assert '"execution_count": null' in text and '"outputs": []' in text  # nothing run, no output


def test_committed_notebooks_are_current(lab4):
    """notebooks/ is generated; regenerate with `make notebooks`."""
    for readme in readmes(lab4):
        path = NOTEBOOKS / notebook_name(lab4, readme.language)
        assert path.read_text(encoding="utf-8") == render(lab4, readme, NOTEBOOKS), (
            f"{path.relative_to(REPO)} is stale: run `make notebooks`")
    expected = {notebook_name(load_lab(spec), readme.language)
                for spec in sorted((REPO / "labs").glob("*/lab.yml"))
                for readme in readmes(load_lab(spec))}
    assert {path.name for path in NOTEBOOKS.glob("*.ipynb")} == expected


def test_every_exercise_has_its_build_run_and_grade_cells(lab4, notebooks):
    for language, notebook in notebooks.items():
        sources = [cell.source for cell in notebook.cells]
        for exercise in lab4.exercises:
            build = index_of(sources, f'docker build -t "${{DOCKERLAB_TAG_PREFIX}}{exercise.image}" '
                                      f'-f "$SUBMISSION/{exercise.dockerfile}"')
            context = (f'"$SUBMISSION/{Path(exercise.dockerfile).parent.as_posix()}"'
                       if exercise.context is None
                       else os.path.relpath(lab4.lab_dir / exercise.context, REPO))
            assert sources[build].rstrip().endswith(context), (language, exercise.id)
            grade = index_of(sources, f'dockerlab grade lab4 {exercise.id} --path "$SUBMISSION"')
            assert build < grade
            if exercise.run is not None:
                run = index_of(sources, f'--name "${{DOCKERLAB_TAG_PREFIX}}{exercise.run.name}"')
                assert build < run < grade
                for inside, outside in exercise.run.ports.items():
                    assert f"-p {outside}:{inside}" in sources[run]
                    assert f"http://localhost:{outside}{exercise.run.ready.path}" in sources[run]
            # Its cells follow its own README section ("## 4.2 — …" for "4.2 Java: …").
            number = exercise.title.split()[0]
            heading = max(i for i, cell in enumerate(notebook.cells[:build])
                          if cell.cell_type == "markdown" and cell.source.startswith("## "))
            assert notebook.cells[heading].source.startswith(f"## {number} "), exercise.id
        last = notebook.cells[-1]
        assert last.cell_type == "code" and "grade_and_show(\"lab4\", SUBMISSION" in last.source
        assert all(source.startswith("%%bash\n") for source in code_cells(notebook)
                   if re.search(r"^(docker|dockerlab) ", source, flags=re.M))


def index_of(sources: list[str], text: str) -> int:
    matches = [index for index, source in enumerate(sources) if text in source]
    assert len(matches) == 1, f"{len(matches)} cells hold {text!r}"
    return matches[0]


def test_parameters_cell_comes_first_and_can_be_replaced(notebooks):
    notebook = notebooks["en"]
    first_code = next(cell for cell in notebook.cells if cell.cell_type == "code")
    assert first_code.metadata.tags == [PARAMETERS_TAG]
    assert 'SUBMISSION = "labs/lab4"' in first_code.source and 'TAG_PREFIX = ""' in first_code.source
    injected = inject_parameters(notebook, SUBMISSION="labs/lab4/solution")
    position = injected.cells.index(next(c for c in injected.cells if c.cell_type == "code"))
    assert injected.cells[position + 1].metadata.tags == [INJECTED_TAG]
    assert injected.cells[position + 1].source == "SUBMISSION = 'labs/lab4/solution'"
    nbformat.validate(injected)
    assert len(notebook.cells) + 1 == len(injected.cells)  # the original is left as it was


def test_korean_notebook_carries_the_korean_text(lab4, notebooks):
    korean = notebooks["ko"]
    markdown = "\n".join(cell.source for cell in korean.cells if cell.cell_type == "markdown")
    readme = (lab4.lab_dir / "README.ko.md").read_text(encoding="utf-8")
    for heading in re.findall(r"^## .*$", readme, flags=re.M):
        assert heading in markdown
    for sentence in ("이미지가 되는 것은 **마지막** 단계뿐이다.", "## 실습 채점", "캐시에서 나와야 한다"):
        assert sentence in markdown
    assert "## Grade the lab" not in markdown
    assert len(HANGUL.findall(markdown)) > 2000
    english = "\n".join(c.source for c in notebooks["en"].cells if c.cell_type == "markdown")
    assert not HANGUL.search(english.replace("[한국어]", ""))
    # The same commands in both languages: only comments and the table's language differ.
    assert [without_comments(source) for source in code_cells(korean)] == [
        without_comments(source.replace('language="en"', 'language="ko"'))
        for source in code_cells(notebooks["en"])]
    assert 'language="ko"' in code_cells(korean)[-1]


def without_comments(source: str) -> list[str]:
    return [re.sub(r"  # .*$", "", line) for line in source.splitlines()
            if not line.lstrip().startswith("#") and "raise FileNotFoundError" not in line]


def test_links_lead_from_the_notebooks_folder(notebooks):
    for language, notebook in notebooks.items():
        for cell in notebook.cells:
            if cell.cell_type != "markdown":
                continue
            for target in re.findall(r"\]\(([^)\s]+)\)", cell.source):
                if "://" in target or target.startswith("#"):
                    continue
                assert (NOTEBOOKS / target.partition("#")[0]).exists(), (language, target)
    first = notebooks["en"].cells[0].source
    assert "[한국어](lab4.ko.ipynb)" in first


def test_the_kernel_works_from_the_repository_root_wherever_it_starts(notebooks, tmp_path,
                                                                      monkeypatch):
    """The parameters and set-up cells, run by a real kernel started in the repository root
    and in notebooks/: both work from the root, with the tag prefix from the environment."""
    notebook = notebooks["en"]
    setup = next(i for i, cell in enumerate(notebook.cells)
                 if cell.cell_type == "code" and "os.chdir(ROOT)" in cell.source)
    probe = nbformat.v4.new_code_cell(
        "import os, sys\nprint(os.getcwd()); print(sys.executable)\n"
        "print(os.environ['SUBMISSION'], os.environ['NETWORK'])\n"
        "import shutil; print(shutil.which('dockerlab'))", id="probe")
    monkeypatch.setenv("DOCKERLAB_TAG_PREFIX", "probe-")
    for start in (REPO, NOTEBOOKS):
        partial = nbformat.v4.new_notebook(metadata=notebook.metadata,
                                           cells=[*notebook.cells[:setup + 1], probe])
        executed = run_notebook(partial, start, tmp_path / "jupyter")
        printed = stream_text(executed.cells[-1]).splitlines()
        assert printed[0] == str(REPO), start
        assert printed[1] == sys.executable
        assert printed[2] == "labs/lab4 probe-nat"
        assert printed[3] == str(Path(sys.executable).parent / "dockerlab")


def test_result_table_renders_for_jupyter_and_plain_front_ends():
    check = {"exercise": "image-gallery", "rule_id": "ML4-SIZE", "title": "final image ≤ 30 MB",
             "status": "failed", "points": 0, "max_points": 5, "required": True,
             "what": "final image is 412.3 MB <over> budget", "fix": "Use | diamol/base."}
    result = {
        "title": "Lab 4", "submission": "/x", "score": 40, "max_score": 50, "pass_mark": 70,
        "passed": False, "verdict": {"reasons": ["image-gallery: required check ML4-SIZE failed"]},
        "exercises": [
            {"title": "4.1 Stages", "score": 15, "max_score": 15, "percent": 100.0,
             "passed": True, "checks": []},
            {"title": "4.4 Go", "score": 25, "max_score": 35, "percent": 71.4, "passed": False,
             "checks": [check]},
        ],
    }
    bundle = result_bundle(result)
    assert set(bundle) == {"text/plain", "text/markdown", "text/html"}
    assert "Score 40/50 (80%) — pass mark 70%: FAILED" in bundle["text/plain"]
    assert "4.4 Go" in bundle["text/plain"] and "71.4%" in bundle["text/plain"]
    assert "&lt;over&gt;" in bundle["text/html"] and "<over>" not in bundle["text/html"]
    assert "<table>" in bundle["text/html"] and "(required)" in bundle["text/html"]
    assert "Use \\| diamol/base." in bundle["text/markdown"]
    korean = result_bundle({**result, "passed": True, "score": 50,
                            "exercises": result["exercises"][:1]}, "ko")
    assert "점수 50/50 (100%) — 통과 기준 70%: 통과" in korean["text/plain"]
    assert "모든 검사를 통과했다." in korean["text/html"]
