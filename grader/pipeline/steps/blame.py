"""Step `blame`: who made each layer of the final image — one of the learner's instructions
(with its line), or the base image the final stage starts from.

The classic builder writes one history row per instruction of the final stage's lineage (its
`FROM <stage>` links followed back to an image; `ARG`, `ENV`, `CMD` … included), after the
base image's own rows and before one `LABEL` row per label the grader adds. A row adds a
layer when its instruction changed files: RUN, COPY, ADD, and a WORKDIR that creates its
folder. So the rows after the base image's are the lineage's instructions in order. The base
image's rows are counted from the base image itself, when the engine still has it and the
final image starts with its layers; otherwise from the end, before the grader's labels.

Each match is checked against the row's own words (`#(nop) COPY file:… in /web`, `/bin/sh -c
…`, BuildKit's `COPY /out/server . # buildkit`): when one row does not fit its instruction,
no row is blamed on an instruction, and a layer is named by its number and its words
("layer 4 (`COPY dir:b67… in /`)") — an image built some other way is still read, only less
precisely.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, ClassVar

from grader.dockerfile import KNOWN_INSTRUCTIONS, DockerfileSyntaxError, Instruction, Stage
from grader.engine import ImageHistory, ImageLayer
from grader.pipeline.facts import Need, Phase, Unavailable
from grader.pipeline.steps.build import IMAGE, build_request

if TYPE_CHECKING:
    from grader.pipeline.job import ExerciseJob

# `/bin/sh -c #(nop)  COPY file:… in /` (the classic builder's words for a non-RUN step)
NOP_KEYWORD = re.compile(r"#\(nop\)\s+([A-Za-z]+)")
# `|2 A=1 B=2 /bin/sh -c …`: a RUN with build args in scope
RUN_WITH_ARGS = re.compile(r"^\|\d+\s")
BUILDKIT_NOTE = re.compile(r"\s*# buildkit\s*$")
SHOWN_CHARS = 60


class Origin(Enum):
    BASE = "base"  # the base image's own row
    INSTRUCTION = "instruction"  # one of the learner's instructions
    GRADER = "grader"  # a label the grader's build added
    UNKNOWN = "unknown"  # not matched to anything


@dataclass(frozen=True)
class Row:
    """One row of the final image's history, bottom first, and who made it."""

    position: int
    created_by: str
    size: int  # bytes, as `docker history` shows
    origin: Origin
    instruction: Instruction | None = None
    stage: Stage | None = None  # the instruction's stage: the final one or one it builds on


@dataclass(frozen=True)
class Weight:
    """One line of a size breakdown: the base image as a whole, or one layer-making row."""

    label: str  # as the learner reads it
    line: int | None  # where in the Dockerfile
    size: int
    row: Row | None  # None for the base image's rows taken together


@dataclass(frozen=True)
class Blame:
    rows: tuple[Row, ...]
    final: Stage | None  # None: the Dockerfile could not be read
    base_layers: int | None  # the base image's layers, when the engine has it

    @property
    def base(self) -> str | None:
        """The image under the final stage (`FROM <stage>` links followed), or scratch."""
        return self.final.root_image() if self.final else None

    @property
    def matched(self) -> bool:
        """Whether the learner's rows were matched to their instructions."""
        return any(row.origin is Origin.INSTRUCTION for row in self.rows)

    def row_of(self, layer: ImageLayer) -> Row | None:
        """The history row that made `layer` (`docker save` says which; else the one learner
        row with the same words, or the base image's rows by the base's layer count)."""
        if layer.history_index is not None and 0 <= layer.history_index < len(self.rows):
            return self.rows[layer.history_index]
        same = [row for row in self.rows
                if row.origin is not Origin.BASE and row.created_by == layer.created_by]
        if len(same) == 1:
            return same[0]
        if self.base_layers is not None and layer.index < self.base_layers:
            return next((row for row in self.rows if row.origin is Origin.BASE), None)
        return None

    # -- how the learner reads it -----------------------------------------------------------

    def source(self, row: Row | None, layer: ImageLayer | None = None) -> str:
        """`COPY --from=builder / /` at line 7 · diamol/golang, your final `FROM` at line 2 ·
        layer 4 (`COPY dir:b67… in /`)."""
        if row is not None and row.origin is Origin.INSTRUCTION:
            return instruction_phrase(row.instruction, row.stage, self.final)
        if row is not None and row.origin is Origin.BASE and self.final is not None:
            return self.base_phrase()
        words = short(row.created_by if row is not None else layer.created_by if layer else "")
        number = f"layer {layer.index + 1}" if layer is not None else "a layer"
        return f"{number} (`{words}`)" if words else number

    def line(self, row: Row | None) -> int | None:
        """Where a row's cause is written: its instruction, or the final FROM for the base."""
        if row is not None and row.instruction is not None:
            return row.instruction.line
        return self.final.from_line if self.final else None

    def base_phrase(self) -> str:
        """diamol/golang, your final `FROM` at line 14 · diamol/golang (`${GO_IMAGE}`), the base
        of stage `sdk` (line 1) that your final `FROM` at line 9 builds on."""
        lineage = self.final.lineage()
        root = lineage[0]
        name = root.resolved_base
        written = f" (`{root.base}`)" if root.base != name else ""
        if len(lineage) == 1:
            return f"{name}{written}, your final `FROM` at line {self.final.from_line}"
        return (f"{name}{written}, the base of stage `{root.label}` (line {root.from_line}) "
                f"that your final `FROM` at line {self.final.from_line} builds on")

    def weights(self) -> list[Weight]:
        """What the image's size is made of, heaviest first: the base image as one entry,
        then each row that added bytes."""
        weights = []
        base_rows = [row for row in self.rows if row.origin is Origin.BASE]
        if base_rows and self.final is not None:
            layers = self.base_layers if self.base_layers is not None else sum(
                1 for row in base_rows if row.size)
            name = self.final.lineage()[0].resolved_base
            plural = "" if layers == 1 else "s"
            weights.append(Weight(f"{name}, the base image ({layers} layer{plural})",
                                  self.final.from_line, sum(row.size for row in base_rows), None))
        for row in self.rows:
            if row.size and row.origin is not Origin.BASE:
                label = (instruction_phrase(row.instruction, row.stage, self.final, lines=False)
                         if row.origin is Origin.INSTRUCTION else f"`{short(row.created_by)}`")
                weights.append(Weight(label, self.line(row) if row.instruction else None,
                                      row.size, row))
        return sorted(weights, key=lambda weight: -weight.size)


def instruction_phrase(instruction: Instruction, stage: Stage | None, final: Stage | None,
                       lines: bool = True) -> str:
    text = str(instruction)
    shown = f"`{text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 1] + '…'}`"
    if lines:
        shown += f" at line {instruction.line}"
    if stage is not None and final is not None and stage is not final:
        shown += f" (stage `{stage.label}`, which your final stage builds on)"
    return shown


def short(command: str, limit: int = 90) -> str:
    """A history row's words as a Dockerfile says them, cut at `limit` characters."""
    text = BUILDKIT_NOTE.sub("", command)
    text = " ".join(text.replace("/bin/sh -c #(nop) ", "").replace("/bin/sh -c ", "RUN ").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- matching rows to instructions ----------------------------------------------------------


def row_keyword(created_by: str) -> str | None:
    """The instruction a history row's words name: RUN, COPY, …; None when they name none
    (the classic builder writes an exec-form RUN as its bare command)."""
    nop = NOP_KEYWORD.search(created_by)
    if nop:
        return nop.group(1).upper()
    text = BUILDKIT_NOTE.sub("", created_by).strip()
    if text.startswith("/bin/sh -c") or RUN_WITH_ARGS.match(text):
        return "RUN"
    first = text.split(maxsplit=1)[0] if text else ""
    return first if first in KNOWN_INSTRUCTIONS else None  # BuildKit: `COPY /src /dst`


def fits(instruction: Instruction, created_by: str) -> bool:
    keyword = row_keyword(created_by)
    return instruction.keyword == (keyword or "RUN")


def added_label_rows(rows: tuple, labels: Mapping[str, str]) -> int:
    """How many of the last rows are the labels the grader's build added (`LABEL k=v`)."""
    marks = [f"LABEL {key}={value}" for key, value in labels.items()]
    count = 0
    for row in reversed(rows):
        if count == len(marks) or not any(mark in row.created_by for mark in marks):
            break
        count += 1
    return count


def base_row_count(history: ImageHistory, root: ImageHistory | None) -> int | None:
    """The base image's rows at the bottom of `history`, when `root` (the base image as the
    engine has it now) is what the image was built on: same first layers, same first rows."""
    if root is None or len(root.rows) > len(history.rows):
        return None
    same_layers = history.layer_ids[: len(root.layer_ids)] == root.layer_ids
    same_rows = [row.created_by for row in history.rows[: len(root.rows)]] == [
        row.created_by for row in root.rows
    ]
    return len(root.rows) if same_layers and same_rows else None


def aligned(made: list[tuple[Stage, Instruction]], rows: tuple, start: int | None) -> bool:
    """Whether the rows from `start` on are the instructions `made`, each fitting its row."""
    if start is None or start < 0 or start + len(made) > len(rows):
        return False
    window = rows[start : start + len(made)]
    return all(fits(ins, row.created_by) for (_, ins), row in zip(made, window, strict=True))


def blame_rows(final: Stage | None, history: ImageHistory, root: ImageHistory | None,
               labels: Mapping[str, str]) -> Blame:
    """Who made each row of `history`, the final image's. `root`: the base image's history
    (None when it is scratch or unknown)."""
    rows = history.rows
    if final is None:
        return Blame(tuple(Row(i, r.created_by, r.size, Origin.UNKNOWN) for i, r in enumerate(rows)),
                     None, None)
    scratch = final.root_image().lower() == "scratch"
    base_rows = 0 if scratch else base_row_count(history, root)
    base_layers = 0 if scratch else len(root.layer_ids) if base_rows is not None else None
    made = [(stage, ins) for stage in final.lineage() for ins in stage.instructions]
    tail = len(rows) - added_label_rows(rows, labels) - len(made)
    start = next((start for start in (base_rows, tail) if aligned(made, rows, start)), None)
    if base_rows is None and start is not None:
        base_rows = start  # what comes before the learner's rows is the base image's
    blamed = []
    for position, row in enumerate(rows):
        origin, stage, instruction = Origin.UNKNOWN, None, None
        if base_rows is not None and position < base_rows:
            origin = Origin.BASE
        elif start is not None and position < start + len(made):
            origin = Origin.INSTRUCTION
            stage, instruction = made[position - start]
        elif start is not None:
            origin = Origin.GRADER
        blamed.append(Row(position, row.created_by, row.size, origin, instruction, stage))
    return Blame(tuple(blamed), final, base_layers)


# -- the need -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerBlame(Need):
    """Who made each row (and so each layer) of the final image: read from the image's and
    its base image's history, which the engine keeps (no `docker save`)."""

    phase: ClassVar[Phase] = Phase.IMAGE

    def requires(self, job: ExerciseJob) -> tuple[Need, ...]:
        return (IMAGE,)

    def provide(self, job: ExerciseJob) -> Blame:
        image = job.value(IMAGE)
        history = job.sandbox.image_history(image.id)
        if history is None:
            raise Unavailable("not checked: the built image is no longer in the engine")
        try:
            final = job.facts.final_stage
        except DockerfileSyntaxError:
            final = None
        root = None
        if final is not None and final.root_image().lower() != "scratch":
            root = job.sandbox.image_history(final.root_image())
        labels = build_request(job, job.facts.dockerfile).labels  # the rows the build added
        return blame_rows(final, history, root, labels)


BLAME = LayerBlame()
