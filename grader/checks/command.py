"""ML4-CMD: a command run inside the running container (through pytest-testinfra) succeeds.

For what only the running container can tell, e.g. that the dependencies installed in the
builder stage resolve from the app's working folder in the final one.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from grader.checks.base import Check
from grader.pipeline.facts import Need
from grader.pipeline.steps.run import Exec
from grader.results import Outcome

if TYPE_CHECKING:
    from grader.pipeline.facts import Facts

NO_SHELL_STATUSES = (126, 127)
# The runtime's words when /bin/sh itself is missing (`exec: "/bin/sh": stat /bin/sh: no such
# file`), not a shell's own "not found" for the command it was given.
MISSING_SHELL = re.compile(r'"/bin/sh"|stat /bin/sh')


class CommandCheck(Check):
    kind: Literal["command"]
    command: str = Field(description="Shell command, run with /bin/sh -c in the container's WORKDIR.")
    exit_status: int = Field(0, description="Exit status expected.")
    stdout: list[str] = Field(default_factory=list, description="Texts the output contains.")
    why: str = Field("", description="What the command proves, shown in the failure's fix.")

    rule_id: ClassVar[str] = "ML4-CMD"

    def describe(self) -> str:
        return f"`{self.command}` succeeds in the container"

    def needs(self) -> tuple[Need, ...]:
        return (Exec(self.command),)

    def judge(self, facts: Facts) -> Outcome:
        done = facts[Exec(self.command)]
        output = done.stdout + done.stderr
        if done.exit_status in NO_SHELL_STATUSES and MISSING_SHELL.search(output):
            return Outcome(
                False,
                f"`{self.command}` could not run: the final image has no /bin/sh.",
                fix="This check needs a shell in the final image; base the final stage on "
                "the runtime image the lab names.",
                details=output.strip(),
            )
        missing = [text for text in self.stdout if text not in done.stdout]
        if done.exit_status == self.exit_status and not missing:
            return Outcome(True, f"`{self.command}` exited {done.exit_status} as expected.")
        what = f"`{self.command}` exited {done.exit_status}" + (
            f" (expected {self.exit_status})" if done.exit_status != self.exit_status else ""
        )
        if missing:
            what += "; its output lacks " + ", ".join(f"'{text}'" for text in missing)
        return Outcome(
            False,
            what + ".",
            fix=self.why or "Check that the final stage copies in everything the app needs.",
            details=output.strip()[-800:],
        )
