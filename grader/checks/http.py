"""ML4-HTTP: a running container answers an HTTP request as the lab expects."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from grader.checks.base import Check
from grader.engine import HttpAnswer
from grader.engine.containers import HTTP_BODY_CAP
from grader.pipeline.facts import Need
from grader.pipeline.steps.run import Http, ServedBy
from grader.results import Outcome

if TYPE_CHECKING:
    from grader.pipeline.facts import Facts


class ValueFrom(BaseModel):
    """A value another exercise's service serves, e.g. the caption image-of-the-day returns."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    exercise: str
    path: str
    key: str = Field(description="JSON key whose value must appear in this response's text.")
    port: int = 80


class HttpCheck(Check):
    kind: Literal["http"]
    method: Literal["GET", "POST", "PUT", "DELETE", "HEAD"] = "GET"
    path: str = Field(pattern=r"^/")
    port: int = Field(80, gt=0, lt=65536, description="Container port to call.")
    json_body: Any = Field(None, alias="json")
    body: str | None = Field(None, description="Raw request body (not JSON).")
    status: int = Field(200, ge=100, lt=600)
    json_keys: list[str] = Field(default_factory=list, description="Keys the JSON answer has.")
    text: list[str] = Field(default_factory=list, description="Texts the answer contains.")
    text_from: ValueFrom | None = None

    rule_id: ClassVar[str] = "ML4-HTTP"

    def describe(self) -> str:
        return f"{self.method} {self.path} → {self.status}"

    @property
    def request(self) -> Http:
        return Http.of(self.method, self.path, self.port, self.json_body, self.body)

    @property
    def source(self) -> ServedBy | None:
        if self.text_from is None:
            return None
        return ServedBy(self.text_from.exercise, self.text_from.path, self.text_from.port)

    def needs(self) -> tuple[Need, ...]:
        # The value from the other service is read first: the page shows it afterwards.
        return (self.source, self.request) if self.source else (self.request,)

    def called_ports(self) -> list[int]:
        return [self.port]

    def judge(self, facts: Facts) -> Outcome:
        alias = facts.exercise.run.name
        expected_texts = list(self.text)
        if self.source is not None:
            value = expected_value(self.text_from, facts[self.source])
            if isinstance(value, Outcome):
                return value
            expected_texts.append(value)
        answer: HttpAnswer = facts[self.request]
        if answer.status is None:
            return Outcome(
                False,
                f"{self.method} {self.path} on {alias} got no answer ({answer.error}).",
                fix="The server stopped or hangs on this request; see `docker logs` of the container.",
                details=answer.logs.strip(),
            )
        return self.compare(answer, expected_texts, alias)

    def compare(self, answer: HttpAnswer, expected_texts: list[str], alias: str) -> Outcome:
        request = f"{self.method} {self.path} on {alias}"
        cut = f" (a body over {HTTP_BODY_CAP // 1024 // 1024} MiB: only its first MiB was read)" if answer.truncated else ""
        if answer.redirect and answer.status != self.status:
            return Outcome(
                False,
                f"{request} answered {answer.status}, a redirect to {answer.redirect}, which the "
                f"grader does not follow; the check expects {self.status}.",
                fix=f"Make the app serve {self.path} itself: a redirect usually comes from the "
                "app's base URL or HTTPS setting, or from a path that needs a trailing slash.",
            )
        if answer.status != self.status:
            return Outcome(
                False,
                f"{request} answered {answer.status}; expected {self.status}{cut}.",
                fix="Compare with the app's README: is this the right image, with the source "
                "and files the app needs copied into the final stage?",
                details=answer.text[:500],
            )
        missing_keys: list[str] = []
        if self.json_keys:
            try:
                document = answer.json()
            except ValueError:
                return Outcome(
                    False,
                    f"{request} did not answer JSON{cut}.",
                    fix="The API must answer JSON; check the final stage runs the app itself.",
                    details=answer.text[:500],
                )
            missing_keys = [key for key in self.json_keys if not isinstance(document, dict) or key not in document]
        # Pages escape what they show (an API caption "Sun & Moon" is "Sun &amp; Moon" in HTML).
        shown = html.unescape(answer.text)
        missing_texts = [text for text in expected_texts if text not in shown]
        found = len(self.json_keys) + len(expected_texts) - len(missing_keys) - len(missing_texts)
        wanted = len(self.json_keys) + len(expected_texts)
        if not missing_keys and not missing_texts:
            return Outcome(True, f"{request} answered {answer.status} as expected{cut}.")
        missing = [f"key '{key}'" for key in missing_keys] + [f"text '{text}'" for text in missing_texts]
        return Outcome(
            False,
            f"{request} answered {answer.status} but lacks {', '.join(missing)}{cut}.",
            fix="The containers talk to each other by their network aliases on the lab network; "
            "check the ENV URLs in the final stage and that the other services run.",
            details=answer.text[:500],
            fraction=found / wanted if wanted else 0.0,
        )


def expected_value(source: ValueFrom, answer: HttpAnswer | None) -> str | Outcome:
    if answer is None:
        return Outcome(
            False,
            f"This check needs the {source.exercise} container, which is not running.",
            fix=f"Make the {source.exercise} exercise build and run first.",
        )
    try:
        if answer.status is None:
            raise ConnectionError(answer.error)
        return str(answer.json()[source.key])
    except (ConnectionError, ValueError, KeyError, TypeError) as exc:
        reason = answer.error if isinstance(exc, ConnectionError) else type(exc).__name__
        return Outcome(
            False,
            f"Could not read '{source.key}' from {source.exercise} {source.path} ({reason}).",
            fix=f"Make {source.exercise} answer {source.path} with JSON first.",
        )
