"""ML4-RUN: the container starts on the lab network, stays up and answers.

Not written in a `checks:` list: configured by an exercise's `run:` key. The container
keeps running for the exercise's HTTP checks and for the exercises that call it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar, Literal

from grader.checks.base import Check
from grader.pipeline.facts import Need
from grader.pipeline.steps.run import STARTED, Look, Readiness
from grader.results import Location, Outcome

if TYPE_CHECKING:
    from grader.engine import Listener
    from grader.pipeline.facts import Facts

PORT_FIX = ("The app must listen on port {port} inside the container (EXPOSE only documents a "
            "port; the app's own setting decides it). Check the app's PORT setting and the "
            "container's log below.")


class RunCheck(Check):
    kind: Literal["run"] = "run"

    rule_id: ClassVar[str] = "ML4-RUN"

    def describe(self) -> str:
        return "the container starts and answers"

    def needs(self) -> tuple[Need, ...]:
        return (STARTED,)

    def judge(self, facts: Facts) -> Outcome:
        return verdict(facts, facts[STARTED])


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
            fix=f"Run it by hand to see why: `{run_by_hand(facts)}`. Check that CMD starts the server in the foreground and "
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
    if readiness.early:
        return not_listening(facts, readiness)
    look = readiness.look
    said = f" It waited {readiness.after_s:.1f} s" + (f"; {seen(look)}" if look else "")
    fix = PORT_FIX.format(port=ready.port)
    if look is not None and look.serves(ready.port):
        fix = (f"The app listens on port {ready.port} but GET {ready.path} never answered below "
               "500: the container's log below says what it is waiting for.")
    elif look is not None and not look.idle:
        fix += (" The container was still busy: an app that starts this slowly may be short of "
                "memory or CPU, or doing work at start that belongs in the build.")
    return Outcome(
        False,
        f"{alias} did not answer GET {ready.path} on container port {ready.port} "
        f"within {ready.timeout_s:.0f} s (last: {readiness.answer}).{said}.",
        fix=fix,
        location=facts.at_final_from(),
        details=readiness.logs.strip(),
    )


def seen(look: Look) -> str:
    """How the container looked at the last look: "it was busy (CPU 97 %) and listened on
    no TCP port"."""
    state = "idle" if look.idle else "busy"
    cpu = f" (CPU {look.cpu_share * 100:.0f} %)" if look.cpu_share is not None else ""
    if look.listening is None:
        return f"the container was {state}{cpu}"
    return f"at {look.at_s:.1f} s it was {state}{cpu} and listened on {sockets(look.listening)}"


def not_listening(facts: Facts, readiness: Readiness) -> Outcome:
    """It runs, and nothing will answer on the port: said at the first look that shows it."""
    ready, alias, look = facts.exercise.run.ready, facts.exercise.run.name, readiness.look
    port = ready.port
    head = (f"{alias} did not answer GET {ready.path} on container port {port}: "
            f"{look.at_s:.1f} s after it started,")
    cpu = f"CPU {look.cpu_share * 100:.0f} %" if look.cpu_share is not None else "CPU unknown"
    elsewhere = look.elsewhere(port)
    if not elsewhere:
        return Outcome(
            False,
            f"{head} it listens on no TCP port and is idle ({cpu}): its command does not "
            "start the server.",
            fix="The container runs, but its command never starts the app: CMD (after any "
            "ENTRYPOINT) must run the server itself, in the foreground. A command that only "
            "keeps the container alive (`sleep`, `tail -f /dev/null`) starts nothing.",
            location=command_line(facts),
            details=readiness.logs.strip(),
        )
    if all(found.port == port for found in elsewhere):  # on the right port, loopback only
        return Outcome(
            False,
            f"{head} it listens on port {port} on {sockets(elsewhere)} only, which nothing "
            "outside the container can reach.",
            fix=f"The app must listen on port {port} on all of the container's addresses "
            "(0.0.0.0 or ::), not on localhost: check its listen address setting.",
            location=facts.at_final_from(),
            details=readiness.logs.strip(),
        )
    others = sorted({found.port for found in elsewhere if found.port != port})
    named = " and ".join(str(other) for other in others)
    return Outcome(
        False,
        f"{head} nothing listens on port {port}; it listens on {sockets(elsewhere)} "
        f"({'idle, ' if look.idle else ''}{cpu}).",
        fix=f"The app listens on port {named}, the lab calls port {port}: make the app listen "
        f"on port {port} inside the container (EXPOSE only documents a port; the app's own "
        f"setting decides it, e.g. an `ENV PORT={others[0]}` or a flag in CMD).",
        location=mentioning(facts, others) or facts.at_final_from(),
        details=readiness.logs.strip(),
    )


def sockets(listening: tuple[Listener, ...]) -> str:
    """ "port 8080" for a port on every address, "127.0.0.1:80" for one address."""
    if not listening:
        return "no TCP port"
    said = [f"port {found.port}" if found.address in ("0.0.0.0", "::") else str(found)
            for found in listening]
    return ", ".join(dict.fromkeys(said))


def command_line(facts: Facts) -> Location:
    """The final image's last CMD or ENTRYPOINT the learner wrote, else its FROM line."""
    final = facts.final_stage
    written = [ins for stage in (final.lineage() if final else [])
               for ins in stage.instructions if ins.keyword in ("CMD", "ENTRYPOINT")]
    return facts.at_line(written[-1].line) if written else facts.at_final_from()


def mentioning(facts: Facts, ports: list[int]) -> Location | None:
    """The final image's last instruction naming one of `ports` (`ENV PORT=8080`)."""
    final = facts.final_stage
    numbers = {str(port) for port in ports}
    named = [ins for stage in (final.lineage() if final else []) for ins in stage.instructions
             if ins.keyword != "EXPOSE" and numbers & set(re.findall(r"\d+", ins.value))]
    return facts.at_line(named[-1].line) if named else None


def run_by_hand(facts: Facts) -> str:
    """The chapter's way to run the exercise's image, with its published ports."""
    ports = " ".join(f"-p {outside}:{inside}" for inside, outside in facts.exercise.run.ports.items())
    return " ".join(filter(None, ["docker run --rm", ports, facts.exercise.image]))
