"""ML4-TOOLS: the build tools stay in the builder stage, out of the final image.

The image's layers are read from `docker save`, so images without a shell (FROM scratch)
are checked too, and a final stage that starts from an SDK image and deletes the tool
is caught: the deleting layer hides the file, the layer that added it still ships it.
Each layer is blamed on the instruction (and line) that made it, or on the base image
(grader/pipeline/steps/blame.py), so the message names the cause.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from grader.checks.base import Check
from grader.engine import ImageLayer
from grader.pipeline.facts import Need
from grader.pipeline.steps.blame import BLAME, Blame, Origin, Row, short
from grader.pipeline.steps.inspect import LAYERS
from grader.results import Outcome

if TYPE_CHECKING:
    from grader.pipeline.facts import Facts

EXECUTABLE_KINDS = {"file", "symlink", "hardlink"}


@dataclass(frozen=True)
class Sighting:
    tool: str
    path: str
    added_in: ImageLayer
    deleted_in: ImageLayer | None = None


class ForbiddenToolsCheck(Check):
    kind: Literal["forbidden-tools"]
    tools: list[str] = Field(min_length=1, description="Program names, e.g. [go] or [mvn, javac].")

    rule_id: ClassVar[str] = "ML4-TOOLS"

    def describe(self) -> str:
        return "no " + ", ".join(f"`{tool}`" for tool in self.tools) + " in the final image"

    def needs(self) -> tuple[Need, ...]:
        return (LAYERS, BLAME)

    def judge(self, facts: Facts) -> Outcome:
        blame: Blame = facts[BLAME]
        sightings = find_tools(facts[LAYERS], set(self.tools))
        shipped = [s for s in sightings if s.deleted_in is None]
        hidden = [s for s in sightings if s.deleted_in is not None]
        if shipped:
            # Lead with a tool the learner's own instruction brought, else the base image's.
            first = min(shipped, key=lambda s: rank(blame.row_of(s.added_in)))
            row = blame.row_of(first.added_in)
            more = f" and {len(shipped) - 1} more" if len(shipped) > 1 else ""
            return Outcome(
                False,
                brought(blame, row, first, more),
                fix=tools_fix(blame, row),
                location=facts.at_line(blame.line(row)),
                details="\n".join(
                    f"{s.tool}: {s.path} — {blame.source(blame.row_of(s.added_in), s.added_in)}"
                    for s in shipped
                ),
            )
        if hidden:
            first = hidden[0]
            return Outcome(
                False,
                f"The final stage deletes `{first.tool}` ({first.path}) in "
                f"{named(blame, first.deleted_in)}, but the layer that added it "
                f"({named(blame, first.added_in)}) still ships inside the image.",
                fix="Deleting in a later layer hides a file without making the image smaller or "
                "safer. Start the final stage from a runtime image instead and copy the artifact "
                "in with `COPY --from=builder`.",
                location=facts.at_line(blame.line(blame.row_of(first.added_in))),
            )
        return Outcome(True, "None of " + ", ".join(self.tools) + " is in the image's layers.")


def rank(row: Row | None) -> int:
    if row is not None and row.origin is Origin.INSTRUCTION:
        return 0
    return 1 if row is not None and row.origin is Origin.BASE else 2


def named(blame: Blame, layer: ImageLayer) -> str:
    """The instruction (with its line) or base image that made `layer`, else its command."""
    row = blame.row_of(layer)
    if row is not None and row.origin in (Origin.INSTRUCTION, Origin.BASE):
        return blame.source(row, layer)
    return f"`{short(layer.created_by)}`"


def brought(blame: Blame, row: Row | None, sighting: Sighting, more: str) -> str:
    """`COPY --from=builder / /` at line 7 brought `go` (/usr/bin/go and 1 more) into the
    final image, in a layer of 574.6 MB · diamol/golang, your final `FROM` at line 2, contains
    `go` (…)."""
    found = f"`{sighting.tool}` ({sighting.path}{more})"
    if row is not None and row.origin is Origin.INSTRUCTION:
        size = f", in a layer of {row.size / 1_000_000:.1f} MB" if row.size else ""
        return f"{blame.source(row)} brought {found} into the final image{size}."
    if row is not None and row.origin is Origin.BASE and blame.final is not None:
        return f"{blame.base_phrase()}, contains {found}: it ships with the final image."
    layer = sighting.added_in
    return (f"`{sighting.tool}` is in the final image at {sighting.path}{more} (added by layer "
            f"{layer.index + 1}: `{short(layer.created_by)}`).")


def tools_fix(blame: Blame, row: Row | None) -> str:
    final = blame.final
    if row is not None and row.stage is not None and row.stage is not final:
        return (f"Your final stage is built FROM stage `{row.stage.label}`, and inherits its "
                "tools. Start the final stage from a runtime image instead and "
                f"`COPY --from={row.stage.label}` just the built artifact.")
    if row is not None and row.origin is Origin.INSTRUCTION and row.instruction is not None:
        if row.instruction.keyword in ("COPY", "ADD"):
            return (f"Take only what the app runs from the builder stage — the binary or jar it "
                    f"built, e.g. `COPY --from=builder /out/server .` — not the tools: change "
                    f"line {row.instruction.line}.")
        return (f"Install and use build tools in a builder stage only; the final stage takes "
                f"just the built artifact with `COPY --from=builder`: move line "
                f"{row.instruction.line} there.")
    if final is not None and len(final.lineage()) > 1:
        builder = final.lineage()[-2].label
        return (f"Your final stage is built FROM stage `{builder}`, and inherits its base "
                "image's tools. Start the final stage from a runtime image instead and "
                f"`COPY --from={builder}` just the built artifact.")
    base = blame.base if row is not None and row.origin is Origin.BASE else "diamol/golang"
    return (f"Use the SDK image only in a builder stage (`FROM {base} AS builder`), start the "
            "final stage from a runtime image and `COPY --from=builder` just the built "
            "artifact.")


def find_tools(layers: list[ImageLayer], tools: set[str]) -> list[Sighting]:
    """Replay the layers as the storage driver does: whiteouts and opaque folders hide
    what earlier layers added."""
    present: dict[str, Sighting] = {}
    hidden: list[Sighting] = []
    for layer in layers:
        for entry in layer.entries:
            if entry.kind == "whiteout":
                hidden += hide(present, entry.path, layer, include_self=True)
            elif entry.kind == "opaque":
                hidden += hide(present, entry.path, layer, include_self=False)
        for entry in layer.entries:
            name = PurePosixPath(entry.path)
            if entry.kind in EXECUTABLE_KINDS and name.name in tools and name.parent.name == "bin":
                present[entry.path] = Sighting(name.name, entry.path, layer)
    return sorted(present.values(), key=lambda s: s.path) + hidden


def hide(present: dict[str, Sighting], path: str, layer: ImageLayer, include_self: bool) -> list[Sighting]:
    gone = [
        key
        for key in present
        if key.startswith(path.rstrip("/") + "/") or (include_self and key == path)
    ]
    return [
        Sighting(present[key].tool, key, present.pop(key).added_in, deleted_in=layer) for key in gone
    ]
