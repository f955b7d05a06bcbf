"""Hints: a lab's known traps, recognised in the logs behind a failing check.

A lab spec lists `hints:` (a pattern on the build log or on what the container said, and the
advice). When a check fails, the evidence of the needs it read (grader.pipeline.facts.Need
.evidence) is searched, the exercise's own hints first; the first that matches leads the
failure's "how to fix", so a learner reads the cause before the general advice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from grader.pipeline.facts import Need
from grader.results import Outcome
from grader.spec import HintSpec

# Logs are capped where they are read; a pattern searches at most this much of the end.
SEARCHED_CHARS = 200_000


def evidence_of(needs: Iterable[tuple[Need, Any]]) -> dict[str, str]:
    """Every log text the fulfilled needs carry, joined by kind ("build", "container")."""
    found: dict[str, list[str]] = {}
    for need, value in needs:
        for kind, text in need.evidence(value).items():
            found.setdefault(kind, []).append(text)
    return {kind: "\n".join(texts)[-SEARCHED_CHARS:] for kind, texts in found.items()}


def matching_hint(hints: list[HintSpec], evidence: dict[str, str]) -> HintSpec | None:
    for hint in hints:
        text = evidence.get(hint.log, "")
        if text and re.search(hint.pattern, text):
            return hint
    return None


def led_by_hint(outcome: Outcome, hints: list[HintSpec], evidence: dict[str, str]) -> Outcome:
    """The outcome with the first matching hint's advice leading its fix."""
    if outcome.passed:
        return outcome
    hint = matching_hint(hints, evidence)
    if hint is None:
        return outcome
    lead = f"{hint.advice} (hint: {hint.id})"
    return replace(outcome, fix=f"{lead}\n{outcome.fix}" if outcome.fix else lead)
