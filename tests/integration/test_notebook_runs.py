"""The English lab notebook, executed by nbclient on this venv's ipykernel with its kernel
started in notebooks/ (as Jupyter starts it), against the reference solutions: every build,
run and per-exercise grade cell works, and the last cell's table reports 100 %."""

from __future__ import annotations

import re
import time

import docker.errors
import nbformat
import pytest

from grader.notebook import inject_parameters

from ..unit.test_notebook import NOTEBOOKS, run_notebook, stream_text
from .conftest import REPO, TAG_PREFIX

pytestmark = pytest.mark.engine

# The notebook's tags, container and network names: the test prefix, apart from other tests'.
PREFIX = TAG_PREFIX + "notebook-"


@pytest.fixture
def notebook_leftovers(lab4, docker_client, leaves_nothing_behind):
    """Removes what the notebook's own cells made, also when a cell failed before its clean-up
    cell: containers and network by name, then every image tag with the prefix, without
    pruning the parents, so the engine's build cache stays warm."""
    yield
    for name in container_names(lab4):
        try:
            docker_client.containers.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass
    for network in docker_client.networks.list(names=[PREFIX + lab4.network]):
        network.remove()
    for image in docker_client.images.list():
        for tag in image.tags:
            if tag.startswith(PREFIX):
                docker_client.images.remove(tag, noprune=True)


def container_names(lab) -> list[str]:
    return [PREFIX + exercise.run.name for exercise in lab.exercises if exercise.run]


def test_the_notebook_grades_the_reference_solutions_at_100_percent(
        lab4, notebook_leftovers, docker_client, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKERLAB_TAG_PREFIX", PREFIX)  # what the grade cells read
    solution = lab4.solution_dir.relative_to(REPO).as_posix()
    notebook = inject_parameters(nbformat.read(NOTEBOOKS / "lab4.en.ipynb", as_version=4),
                                 SUBMISSION=solution)
    started = time.monotonic()
    try:
        run_notebook(notebook, NOTEBOOKS, tmp_path / "jupyter", timeout=900)
    finally:
        nbformat.write(notebook, tmp_path / "executed.ipynb")  # to read when a cell failed
    print(f"notebook executed in {time.monotonic() - started:.1f} s "
          f"({tmp_path / 'executed.ipynb'})")

    cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for exercise in lab4.exercises:
        # Built with the prefix from the environment, from the solution's Dockerfile.
        build = next(c for c in cells if f"}}{exercise.image}\" -f" in c.source)
        assert "Successfully built" in stream_text(build), exercise.id
        # The per-exercise grade cell graded the solution folder, fully.
        grade = next(c for c in cells if f"dockerlab grade lab4 {exercise.id} " in c.source)
        report = stream_text(grade)
        assert f"({lab4.solution_dir})" in report
        assert re.search(r"Score (\S+)/\1 \(100%\) — pass mark 70%: PASSED", report), report
        if exercise.run is not None:
            run = next(c for c in cells if f'--name "${{DOCKERLAB_TAG_PREFIX}}{exercise.run.name}"'
                       in c.source)
            assert f"GET {exercise.run.ready.path} → 200" in stream_text(run), exercise.id

    # The clean-up cell removed the notebook's containers and network; its images stay.
    assert not docker_client.containers.list(all=True, filters={"name": PREFIX})
    assert not docker_client.networks.list(names=[PREFIX + lab4.network])
    for exercise in lab4.exercises:
        docker_client.images.get(PREFIX + exercise.image)

    last = cells[-1]
    assert "grade_and_show" in last.source
    shown = [output for output in last.outputs if output.output_type == "display_data"]
    assert len(shown) == 1 and {"text/html", "text/markdown", "text/plain"} <= shown[0].data.keys()
    table = shown[0].data["text/plain"]
    assert f"— {lab4.solution_dir}" in table
    points = sum(check.points for exercise in lab4.exercises for check in exercise.all_checks()
                 if not check.hidden)
    assert f"Score {points:g}/{points:g} (100%) — pass mark 70%: PASSED" in table, table
    assert "Every check passed." in table
    assert "<table>" in shown[0].data["text/html"]
    assert not [output for output in last.outputs if output.output_type == "error"]
