"""ML4-RUN: the container starts on the lab network, stays up and answers.

Not written in a `checks:` list: configured by an exercise's `run:` key. The container
keeps running for the exercise's HTTP checks and for the exercises that call it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar, Literal

from grader.checks.base import Check
from grader.pipeline.facts import Need
from grader.pipeline.steps.run import STARTED, Readiness
from grader.results import Outcome

if TYPE_CHECKING:
    from grader.pipeline.facts import Facts


class RunCheck(Check):
    kind: Literal["run"] = "run"

    rule_id: ClassVar[str] = "ML4-RUN"

    def describe(self) -> str:
        return "the container starts and answers"

    def needs(self) -> tuple[Need, ...]:
        return (STARTED,)

    def judge(self, facts: Facts) -> Outcome:
        readiness: Readiness = facts[STARTED]
        outcome = verdict(facts, readiness)
        if not readiness.network_clash:
            return outcome
        lab_network = facts.lab.network
        return replace(
            outcome,
            what=f"{outcome.what} It ran on network {readiness.network}, not {lab_network}: "
            f"on {lab_network}, {', '.join(readiness.network_clash)} already answers to a "
            "name the lab's containers use.",
        )


def verdict(facts: Facts, readiness: Readiness) -> Outcome:
    ready = facts.exercise.run.ready
    alias = facts.exercise.run.name
    if readiness.refused:
        return Outcome(
            False,
            f"Docker could not start the container: {readiness.refused}",
            fix="Check CMD/ENTRYPOINT in the final stage: they must name a program that "
            "exists in the final image.",
            location=facts.at_final_from(),
        )
    if readiness.exited is not None:
        state = readiness.exited
        reason = " (killed: out of memory)" if state.oom_killed else ""
        return Outcome(
            False,
            f"The container exited with code {state.exit_code}{reason} "
            f"{readiness.after_s:.1f} s after it started; a server must keep running.",
            fix="Run it by hand to see why: `docker run --rm "
            f"{facts.exercise.image}`. Check that CMD starts the server in the foreground and "
            "that every file it needs was copied into the final stage.",
            location=facts.at_final_from(),
            details=state.logs.strip(),
        )
    if readiness.ready and ready.path is None:
        return Outcome(True, f"Container {alias} is running.")
    if readiness.ready:
        return Outcome(
            True,
            f"{alias} answered GET {ready.path} with {readiness.answer} "
            f"after {readiness.after_s:.1f} s.",
        )
    return Outcome(
        False,
        f"{alias} did not answer GET {ready.path} on container port {ready.port} "
        f"within {ready.timeout_s:.0f} s (last: {readiness.answer}).",
        fix=f"The app must listen on port {ready.port} inside the container (EXPOSE only "
        "documents a port; the app's own setting decides it). Check the app's PORT setting "
        "and the container's log below.",
        location=facts.at_final_from(),
        details=readiness.logs.strip(),
    )
