"""The report formats: each one module rendering the one result model, registered by one line.

Values name the render function; a format's module (and e.g. rich) is imported on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Callable

from grader.results import LabResult

FORMATS: dict[str, str] = {
    "terminal": "grader.reporters.terminal:render",
    "json": "grader.reporters.json_report:render",
    "junit": "grader.reporters.junit:render",
    "github": "grader.reporters.github:render",
    "gradescope": "grader.reporters.gradescope:render",
    "classroom": "grader.reporters.classroom:render",
}
COLOR_FORMATS = {"terminal"}  # read by people; the others are parsed and never carry ANSI


def renderer(fmt: str) -> Callable[..., str]:
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; known: {', '.join(FORMATS)}")
    module_name, function_name = FORMATS[fmt].split(":")
    return getattr(import_module(module_name), function_name)


def render(result: LabResult, fmt: str, *, color: bool = False) -> str:
    """`result` in format `fmt`; `color` styles the formats people read and is ignored by others."""
    if fmt in COLOR_FORMATS:
        return renderer(fmt)(result, color=color)
    return renderer(fmt)(result)


__all__ = ["FORMATS", "render", "renderer"]
