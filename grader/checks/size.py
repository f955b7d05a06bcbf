"""ML4-SIZE: the final image fits the lab's size budget.

A failure shows what the size is made of — the base image as one entry, then the heaviest
layers with the lines that made them (grader/pipeline/steps/blame.py) — and the size of the
lab's reference solution for the same exercise, built from the same context.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from grader.checks.base import Check
from grader.pipeline.facts import Need
from grader.pipeline.steps.blame import BLAME, Blame, Origin, Weight
from grader.pipeline.steps.build import IMAGE
from grader.pipeline.steps.reference import REFERENCE, ReferenceFacts
from grader.results import Outcome

if TYPE_CHECKING:
    from grader.pipeline.facts import Facts

SHOWN_WEIGHTS = 6  # the heaviest entries listed; the rest are summed in one line
BASE_FIX = ("Build in an SDK stage and start the final stage from a small runtime image "
            "(diamol/base for a Go binary, diamol/openjdk for a jar), then COPY --from the "
            "builder only what runs.")


class SizeCheck(Check):
    kind: Literal["size"]
    max_mb: float = Field(gt=0, description="Budget in MB (1 MB = 1,000,000 bytes, as docker shows).")

    rule_id: ClassVar[str] = "ML4-SIZE"

    def describe(self) -> str:
        return f"final image ≤ {self.max_mb:g} MB"

    def needs(self) -> tuple[Need, ...]:
        return (IMAGE, BLAME, REFERENCE)

    def judge(self, facts: Facts) -> Outcome:
        size = facts[IMAGE].size_mb
        reference: ReferenceFacts = facts[REFERENCE]
        blame: Blame = facts[BLAME]
        weights = blame.weights()
        measured = measurements(facts[IMAGE].size_bytes, self.max_mb, reference, weights)
        if size <= self.max_mb:
            return Outcome(True, f"The image is {size:.1f} MB (budget {self.max_mb:g} MB"
                           f"{reference_note(reference, ', ')}).", measured=measured)
        heaviest = weights[0] if weights else None
        final = facts.final_stage
        base = final.root_image() if final else "its base"
        what = (f"The image is {size:.1f} MB; the budget is {self.max_mb:g} MB "
                f"({size / self.max_mb:.1f}× over){reference_note(reference, ', and ')}. "
                f"Its final stage starts from {base}.")
        if heaviest is not None:
            what += f" Heaviest: {heaviest_phrase(blame, heaviest)}, {mb(heaviest.size)}."
        return Outcome(
            False,
            what,
            fix=size_fix(heaviest),
            location=facts.at_line(heaviest.line) if heaviest and heaviest.line
            else facts.at_final_from(),
            details=breakdown(weights, facts[IMAGE].size_bytes, self.max_mb, reference),
            measured=measured,
        )


def measurements(size_bytes: int, budget_mb: float, reference: ReferenceFacts,
                 weights: list[Weight]) -> dict:
    """The figures behind the verdict, for the class report's size charts."""
    return {
        "size_bytes": size_bytes,
        "budget_bytes": round(budget_mb * 1_000_000),
        "reference_bytes": reference.size_bytes,
        "layers": [{"label": weight.label, "line": weight.line, "bytes": weight.size}
                   for weight in weights],
    }


def mb(size: int) -> str:
    """Decimal units, as docker shows them; a small layer in kB rather than "0.0 MB"."""
    return f"{size / 1_000:.1f} kB" if size < 100_000 else f"{size / 1_000_000:.1f} MB"


def reference_note(reference: ReferenceFacts, joint: str) -> str:
    if reference.size_bytes is None:
        return ""
    if reference.same_image:
        return f"{joint}this is the reference solution"
    return f"{joint}the reference solution's is {mb(reference.size_bytes)}"


def heaviest_phrase(blame: Blame, weight: Weight) -> str:
    if weight.row is None:  # the base image
        return blame.base_phrase() if blame.final is not None else weight.label
    if weight.row.origin is Origin.INSTRUCTION:
        return blame.source(weight.row)
    return weight.label


def size_fix(heaviest: Weight | None) -> str:
    row = heaviest.row if heaviest else None
    if row is None or row.instruction is None:
        return BASE_FIX
    if row.instruction.keyword in ("COPY", "ADD") and "from" in row.instruction.flags:
        return (f"Line {row.instruction.line} copies more than the app runs: take only the "
                "built artifact from the builder (e.g. `COPY --from=builder /out/server .`), "
                "not the folder it was built in.")
    return (f"Line {row.instruction.line} adds the most. What a step adds stays in the image, "
            "even if a later step deletes it: do that work in a builder stage and COPY --from "
            "it only the result.")


def breakdown(weights: list[Weight], total: int, budget_mb: float,
              reference: ReferenceFacts) -> str:
    """One line per entry, heaviest first, the base image as one; then the totals."""
    lines = [f"{mb(w.size):>10}  {f'line {w.line}' if w.line else '':<8}  {w.label}"
             for w in weights[:SHOWN_WEIGHTS]]
    rest = weights[SHOWN_WEIGHTS:]
    if rest:
        lines.append(f"{mb(sum(w.size for w in rest)):>10}  {'':<8}  {len(rest)} smaller layers")
    summary = f"{mb(total):>10}  {'':<8}  in all; budget {budget_mb:g} MB"
    if reference.size_bytes is not None:
        summary += f"; reference solution {mb(reference.size_bytes)}"
    return "\n".join([*lines, summary])
