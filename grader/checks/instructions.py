"""ML4-INSTR: the final stage says how to run the app — the ports it listens on (EXPOSE) and the
command it starts with (CMD or ENTRYPOINT). Settings of a build stage do not reach the final
image unless the final stage is built FROM that stage."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from grader.checks.static import DockerfileCheck, stage_title
from grader.dockerfile import Dockerfile, Instruction, Stage
from grader.results import Outcome

if TYPE_CHECKING:
    from grader.pipeline.facts import Facts


class InstructionsCheck(DockerfileCheck):
    kind: Literal["instructions"] = "instructions"
    expose: list[int] = Field(
        default_factory=list, description="TCP ports the final stage must EXPOSE."
    )
    command: bool = Field(True, description="The final stage must set CMD or ENTRYPOINT.")
    exec_form: bool = Field(
        False, description='CMD and ENTRYPOINT must use the JSON form, e.g. CMD ["/app/server"].'
    )

    rule_id: ClassVar[str] = "ML4-INSTR"

    def describe(self) -> str:
        wanted = [f"EXPOSE {' '.join(map(str, self.expose))}"] if self.expose else []
        if self.command:
            wanted.append("a CMD or ENTRYPOINT" + (" in JSON form" if self.exec_form else ""))
        elif self.exec_form:
            wanted.append("CMD and ENTRYPOINT in JSON form")
        return f"the final stage has {' and '.join(wanted) or 'its settings'}"

    def inspect(self, facts: Facts, dockerfile: Dockerfile, final: Stage) -> Outcome:
        lineage = final.lineage()
        exposed = dockerfile.exposed_ports(final)
        said = " ".join(dict.fromkeys(map(str, exposed)))  # `80 8000-9000 53/udp`
        starts = [ins for ins in (last_of(lineage, "ENTRYPOINT"), last_of(lineage, "CMD")) if ins]
        lacks: list[str] = []  # what the final stage lacks, as clauses
        to_add: list[str] = []  # the lines that would add it
        missing = [port for port in self.expose if not any(found.has(port) for found in exposed)]
        if missing:
            ports = " ".join(map(str, missing))
            has = f" (it exposes {said})" if exposed else ""
            lacks.append(f"does not EXPOSE {ports}{has}")
            to_add.append(f"EXPOSE {ports}")
        if self.command and not starts:
            lacks.append("has no CMD or ENTRYPOINT, so the container does not know what to run")
            to_add.append(f"CMD {suggested_command(final)}")
        if lacks:
            return Outcome(
                False,
                f"The final {stage_title(final)} {', and '.join(lacks)}.",
                fix="Add to the final stage, after its FROM line:\n"
                + "\n".join(f"  {line}" for line in to_add),
                location=facts.at_line(final.from_line),
            )
        shell_form = [start for start in starts if not start.json_form] if self.exec_form else []
        if shell_form:
            return Outcome(
                False,
                " ".join(
                    f"`{start}` (line {start.line}) uses the shell form." for start in shell_form
                )
                + " The app then runs under `sh -c` and does not receive `docker stop`'s signal.",
                fix="Write it in JSON form:\n"
                + "\n".join(
                    f"  {start.keyword} {json.dumps(start.arguments)}" for start in shell_form
                ),
                location=facts.at_line(shell_form[0].line),
            )
        found = [f"EXPOSE {said}"] if exposed else []
        found += [f"`{start}` (line {start.line})" for start in starts]
        return Outcome(True, f"The final stage has {', '.join(found) or 'what it needs'}.")


def last_of(lineage: list[Stage], keyword: str) -> Instruction | None:
    """The setting in force in the last stage: its own, else the nearest parent's."""
    for stage in reversed(lineage):
        found = stage.last(keyword)
        if found:
            return found
    return None


def suggested_command(final: Stage) -> str:
    """A start command from what the stage copies from a build stage: likely the binary."""
    for copy, _ in reversed(final.copies_from()):
        destination = copy.arguments[-1] if copy.arguments else ""
        if destination.startswith("/") and not destination.endswith("/"):
            return json.dumps([destination])
    return '["<program>", "<argument>"]'
