"""docs/spec.md, generated from the spec models themselves so it cannot drift from them.

`python -m grader.specdoc > docs/spec.md` rewrites it; a test checks it is current.
"""

from __future__ import annotations

import sys
import types
import typing

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from grader.checks import KINDS, check_class
from grader.checks.base import Check
from grader.spec import (
    BuildSpec,
    ExerciseSpec,
    HintSpec,
    LabSpec,
    LimitsSpec,
    ReadySpec,
    RunSpec,
)

SECTIONS = [
    ("Lab (top level)", LabSpec),
    ("`limits:`", LimitsSpec),
    ("`exercises[]`", ExerciseSpec),
    ("`build:`", BuildSpec),
    ("`run:`", RunSpec),
    ("`run.ready:`", ReadySpec),
    ("`hints[]` (lab and exercise)", HintSpec),
]

INTRO = """\
# Lab spec reference (`lab.yml`)

A lab is one YAML file, `labs/<lab>/lab.yml`, validated before any Docker call: an unknown
key, a wrong type or an out-of-range value stops with the file, line and field, e.g.
`labs/lab4/lab.yml:42: exercises[2].checks[1].max_mb: Input should be greater than 0`.
`dockerlab check <lab>` also checks that every file the spec names exists, for the learner's
starter folder and for the solutions.

Paths: `dockerfile` is relative to the submission folder (the lab folder for learners,
`solution/` with `--solution`, any folder with `--path`); `context` is relative to the
lab folder (the apps are shared, not the learner's). Points are summed per exercise and per
lab; the pass mark is a percent. A check with `required: true` is a gate: its exercise fails
unless it passes, whatever the score; `verdict:` says how exercises and gates make the lab's
verdict (see the [verdict policy](reference/verdict.md)). A check with `points: 0` is advice:
shown, never scored (unless it is required: then it is a gate worth no points).

This page is generated from the models in `grader/spec.py` and `grader/checks/`
(`python -m grader.specdoc > docs/spec.md`).
"""


def type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{value}`" for value in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(arg) for arg in typing.get_args(annotation) if arg is not type(None))
    if origin is not None:
        args = ", ".join(type_name(arg) for arg in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return getattr(annotation, "__name__", str(annotation)).replace("typing.", "")


def default_text(field) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        value = field.default_factory()
        return "`{}`" if isinstance(value, dict) and not value else (
            "`[]`" if value == [] else "(see section)" if isinstance(value, BaseModel) else f"`{value}`"
        )
    return "—" if field.default in (None, PydanticUndefined) else f"`{field.default}`"


def table(model: type[BaseModel], skip: set[str] = frozenset()) -> str:
    rows = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        key = field.alias or name
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{key}` | {type_name(field.annotation)} | {default_text(field)} | {description} |")
    return "\n".join(rows)


def render() -> str:
    parts = [INTRO]
    for title, model in SECTIONS:
        skip = {"checks"} if model is ExerciseSpec else set()
        parts.append(f"## {title}\n\n{table(model, skip)}\n")
    parts.append(
        "## `checks[]`\n\nEach entry has a `kind`, and these keys whatever its kind "
        "(`required` makes it a gate: [verdict policy](reference/verdict.md)):\n\n"
        f"{table(Check)}\n\nThe keys of each kind:\n"
    )
    common = set(Check.model_fields)
    for kind in KINDS:
        cls = check_class(kind)
        doc = (sys.modules[cls.__module__].__doc__ or "").strip().splitlines()[0]
        parts.append(
            f"### `{kind}` — [{cls.rule_id}](checks/{cls.rule_id}.md)\n\n{doc}\n\n"
            f"{table(cls, skip=common | {'kind'})}\n"
        )
    return "\n".join(parts)


if __name__ == "__main__":
    print(render(), end="")
