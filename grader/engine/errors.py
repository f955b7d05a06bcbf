"""The SDK's exceptions, turned into the project's own at the boundary.

Nothing outside `grader.engine` sees a `docker.errors` type: an engine that fails a request
is an `EngineError` (grading stops, exit code 2, with the engine's own words), and a learner's
container that the engine refuses to start is a `ContainerRefused`, which the run step
records as the learner's result.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import requests
from docker.errors import APIError, DockerException

from grader.errors import EngineError

P = ParamSpec("P")
T = TypeVar("T")


class ContainerRefused(Exception):
    """The engine would not create or start a learner's container (e.g. CMD names a program
    the image lacks); `reason` is the engine's explanation."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Cancelled(Exception):
    """The session was cancelled (Ctrl-C): it starts nothing more."""


def api_message(exc: Exception) -> str:
    if isinstance(exc, APIError):
        return (exc.explanation or str(exc)).strip()
    return str(exc).strip() or type(exc).__name__


def translated(doing: str) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Decorate a boundary method: an SDK or transport failure in it leaves as an EngineError
    that says what the grader was `doing` ("building the image")."""

    def decorate(method: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(method)
        def call(*args: P.args, **kwargs: P.kwargs) -> T:
            try:
                return method(*args, **kwargs)
            except (DockerException, requests.RequestException) as exc:
                raise EngineError(
                    f"The Docker engine failed while {doing}: {api_message(exc)}",
                    hint="Check that the engine still runs (`docker info`); "
                    "`dockerlab clean` removes what an interrupted grading left.",
                ) from exc

        return call

    return decorate
