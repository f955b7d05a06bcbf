"""ML4-TOOLS: the build tools stay in the builder stage, out of the final image.

The image's layers are read from `docker save`, so images without a shell (FROM scratch)
are checked too, and a final stage that starts from an SDK image and deletes the tool
is caught: the deleting layer hides the file, the layer that added it still ships it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from grader.checks.base import Check
from grader.engine import ImageLayer
from grader.pipeline.facts import Need
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
        return (LAYERS,)

    def judge(self, facts: Facts) -> Outcome:
        sightings = find_tools(facts[LAYERS], set(self.tools))
        shipped = [s for s in sightings if s.deleted_in is None]
        hidden = [s for s in sightings if s.deleted_in is not None]
        location = facts.at_final_from()
        if shipped:
            first = shipped[0]
            return Outcome(
                False,
                f"`{first.tool}` is in the final image at {first.path} (added by "
                f"`{short(first.added_in.created_by)}`)"
                + (f", and {len(shipped) - 1} more" if len(shipped) > 1 else "")
                + ".",
                fix="Use the SDK image only in a builder stage (`FROM diamol/golang AS builder`), "
                "start the final stage from a runtime image and `COPY --from=builder` just the "
                "built artifact.",
                location=location,
                details="\n".join(f"{s.tool}: {s.path}" for s in shipped),
            )
        if hidden:
            first = hidden[0]
            return Outcome(
                False,
                f"The final stage deletes `{first.tool}` ({first.path}) in "
                f"`{short(first.deleted_in.created_by)}`, but the layer that added it "
                f"(`{short(first.added_in.created_by)}`) still ships inside the image.",
                fix="Deleting in a later layer hides a file without making the image smaller or "
                "safer. Start the final stage from a runtime image instead and copy the artifact "
                "in with `COPY --from=builder`.",
                location=location,
            )
        return Outcome(True, "None of " + ", ".join(self.tools) + " is in the image's layers.")


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


def short(command: str, limit: int = 90) -> str:
    text = " ".join(command.replace("/bin/sh -c #(nop) ", "").replace("/bin/sh -c ", "RUN ").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
