"""ML4-META: the final image's configuration (ports, command, environment, workdir)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from grader.checks.base import Check
from grader.pipeline.facts import Need
from grader.pipeline.steps.build import IMAGE
from grader.results import Outcome

if TYPE_CHECKING:
    from grader.pipeline.facts import Facts


class MetadataCheck(Check):
    kind: Literal["metadata"]
    exposed_ports: list[int] = Field(default_factory=list, description="Ports EXPOSEd (TCP).")
    env: dict[str, str] = Field(default_factory=dict, description="Variables and their values.")
    command: list[str] | None = Field(None, description="Entrypoint + CMD, as exec form.")
    workdir: str | None = None

    rule_id: ClassVar[str] = "ML4-META"

    def describe(self) -> str:
        parts = [f"EXPOSE {port}" for port in self.exposed_ports]
        parts += [f"ENV {key}={value}" for key, value in self.env.items()]
        if self.command:
            parts.append("CMD " + " ".join(self.command))
        if self.workdir:
            parts.append(f"WORKDIR {self.workdir}")
        return "image config: " + ", ".join(parts)

    def needs(self) -> tuple[Need, ...]:
        return (IMAGE,)

    def judge(self, facts: Facts) -> Outcome:
        image = facts[IMAGE]
        problems: list[tuple[str, str]] = []
        for port in self.exposed_ports:
            if f"{port}/tcp" not in image.exposed_ports:
                problems.append((f"port {port} is not exposed", f"EXPOSE {port}"))
        for key, value in self.env.items():
            actual = image.env.get(key)
            if actual != value:
                seen = "unset" if actual is None else f"'{actual}'"
                problems.append((f"{key} is {seen}, expected '{value}'", f'ENV {key}="{value}"'))
        if self.command is not None:
            actual = list(image.entrypoint or ()) + list(image.cmd or ())
            if actual != self.command:
                problems.append(
                    (f"the command is {actual or 'not set'}, expected {self.command}",
                     "CMD " + str(self.command).replace("'", '"'))
                )
        if self.workdir is not None and image.workdir != self.workdir:
            problems.append(
                (f"WORKDIR is '{image.workdir or '/'}', expected '{self.workdir}'", f"WORKDIR {self.workdir}")
            )
        checked = len(self.exposed_ports) + len(self.env) + (self.command is not None) + (self.workdir is not None)
        if not problems:
            return Outcome(True, "The image's configuration is as expected.")
        return Outcome(
            False,
            "In the final image " + "; ".join(what for what, _ in problems) + ".",
            fix="Add to the final stage (settings of earlier stages do not carry over): "
            + "  ".join(line for _, line in problems),
            location=facts.at_final_from(),
            fraction=(checked - len(problems)) / checked if checked else 0.0,
        )
