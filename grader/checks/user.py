"""ML4-USER: the final image runs as a non-root user."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, field_validator

from grader.checks.base import Check
from grader.pipeline.facts import Need
from grader.pipeline.steps.build import IMAGE
from grader.results import Outcome

if TYPE_CHECKING:
    from grader.dockerfile import Instruction
    from grader.pipeline.facts import Facts

ROOT_FIX = (
    "Make `USER 65534` (nobody) the final stage's last USER, after its steps that need "
    "root. A numeric uid works on every base: scratch and diamol/base have no useradd. On a "
    "base that has one, you may create a user instead (`RUN useradd --system app` then "
    "`USER app`)."
)

UID = re.compile(r"[+-]?[0-9]+")


def is_root(user: str) -> bool:
    """The image config's `User` means root: unset, `root` or uid 0, with any group. A uid
    is what Go's Atoi reads (ASCII digits, a sign): `²` or `٠` is a name, not a number."""
    name = user.strip().partition(":")[0]
    return name in ("", "root") or (UID.fullmatch(name) is not None and int(name) == 0)


class NonRootUserCheck(Check):
    kind: Literal["non-root-user"]
    users: list[str] = Field(
        default_factory=list,
        description="When given, the image's user must be one of these, e.g. `65534` or "
        "`app:app` (never root); an entry without a group accepts any group.",
    )

    rule_id: ClassVar[str] = "ML4-USER"

    @field_validator("users")
    @classmethod
    def no_root_among_users(cls, users: list[str]) -> list[str]:
        for user in users:
            if is_root(user):
                raise ValueError(f"'{user}' is root; list non-root users only")
        return users

    def describe(self) -> str:
        if self.users:
            return "the image runs as " + " or ".join(self.users)
        return "the image runs as a non-root user"

    def needs(self) -> tuple[Need, ...]:
        return (IMAGE,)

    def accepts(self, user: str) -> bool:
        return not self.users or any(
            user == wanted or (":" not in wanted and user.partition(":")[0] == wanted)
            for wanted in self.users
        )

    def judge(self, facts: Facts) -> Outcome:
        user = facts[IMAGE].user.strip()
        if not is_root(user) and self.accepts(user):
            return Outcome(True, f"The image runs as '{user}', not root.")
        instruction = last_user(facts)
        location = facts.at_line(instruction.line) if instruction else facts.at_final_from()
        if not user:
            what = "The image sets no USER, so it runs as root."
        elif is_root(user):
            what = f"The image runs as root (its User is '{user}')."
        else:
            what = f"The image runs as '{user}'; the lab expects {' or '.join(self.users)}."
        if instruction:
            what += f" The final stage's last USER is `{instruction}`."
        elif user:
            what += " The final stage has no USER: its base image sets this one."
        if is_root(user):
            fix = ROOT_FIX
        else:
            fix = f"Make `USER {self.users[0]}` the final stage's last USER."
        return Outcome(False, what, fix=fix, location=location)


def last_user(facts: Facts) -> Instruction | None:
    """The USER in force in the final stage: its own last, else the nearest parent stage's."""
    final = facts.final_stage
    for stage in reversed(final.lineage() if final else []):
        found = stage.last("USER")
        if found:
            return found
    return None
