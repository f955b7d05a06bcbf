"""ML4-RUN: the container starts on the lab network, stays up and answers.

Not written in a `checks:` list: configured by an exercise's `run:` key. The container
keeps running for the exercise's HTTP checks and for the exercises that call it.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar, Literal

import requests
from docker.errors import APIError

from grader.checks.base import Check, Phase
from grader.results import Outcome

if TYPE_CHECKING:
    from grader.context import ExerciseContext

POLL_S = 0.5
SETTLE_S = 2.0  # without an HTTP probe, "up" means still running after this long


class RunCheck(Check):
    kind: Literal["run"] = "run"

    rule_id: ClassVar[str] = "ML4-RUN"
    phase: ClassVar[Phase] = Phase.RUN

    def describe(self) -> str:
        return "the container starts and answers"

    def run(self, context: ExerciseContext) -> Outcome:
        spec = context.exercise.run
        sandbox = context.sandbox
        network = sandbox.lab_network(context.lab.network, context.lab.service_names)
        try:
            service = sandbox.start_service(
                context.exercise.id,
                context.image.id,
                spec.name,
                network=network,
                aliases=spec.aliases,
                env=spec.env,
                ports=spec.ports,
                limits=context.limits,
            )
        except APIError as exc:
            return Outcome(
                False,
                f"Docker could not start the container: {exc.explanation or exc}",
                fix="Check CMD/ENTRYPOINT in the final stage: they must name a program that "
                "exists in the final image.",
                location=context.at_final_from(),
            )
        context.services[context.exercise.id] = service
        outcome = wait_until_ready(context, service)
        if not sandbox.network_clash:
            return outcome
        return replace(
            outcome,
            what=f"{outcome.what} It ran on network {network}, not {context.lab.network}: on "
            f"{context.lab.network}, {', '.join(sandbox.network_clash)} already answers to a "
            "name the lab's containers use.",
        )


def wait_until_ready(context: ExerciseContext, service) -> Outcome:
    ready = context.exercise.run.ready
    started = time.monotonic()
    deadline = started + ready.timeout_s
    last_answer = "no answer"
    while time.monotonic() < deadline:
        state = context.sandbox.container_state(service.container_id)
        if not state.running:
            return exited(context, state, time.monotonic() - started)
        if ready.path is None:
            if time.monotonic() - started >= SETTLE_S:
                return Outcome(True, f"Container {service.alias} is running.")
        else:
            try:
                answer = requests.get(service.url(ready.path, ready.port), timeout=2)
                if answer.status_code < 500:
                    return Outcome(
                        True,
                        f"{service.alias} answered GET {ready.path} with {answer.status_code} "
                        f"after {time.monotonic() - started:.1f} s.",
                    )
                last_answer = f"HTTP {answer.status_code}"
            except requests.RequestException as exc:
                last_answer = type(exc).__name__
        time.sleep(POLL_S)
    state = context.sandbox.container_state(service.container_id)
    return Outcome(
        False,
        f"{service.alias} did not answer GET {ready.path} on container port {ready.port} "
        f"within {ready.timeout_s:.0f} s (last: {last_answer}).",
        fix=f"The app must listen on port {ready.port} inside the container (EXPOSE only "
        "documents a port; the app's own setting decides it). Check the app's PORT setting "
        "and the container's log below.",
        location=context.at_final_from(),
        details=state.logs.strip(),
    )


def exited(context: ExerciseContext, state, after_s: float) -> Outcome:
    reason = " (killed: out of memory)" if state.oom_killed else ""
    return Outcome(
        False,
        f"The container exited with code {state.exit_code}{reason} {after_s:.1f} s after "
        "it started; a server must keep running.",
        fix="Run it by hand to see why: `docker run --rm "
        f"{context.exercise.image}`. Check that CMD starts the server in the foreground and "
        "that every file it needs was copied into the final stage.",
        location=context.at_final_from(),
        details=state.logs.strip(),
    )
