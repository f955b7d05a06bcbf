"""One learner's grading as a batch keeps it: `<out>/learners/<name>/record.json`, beside
the result in every requested format. Written atomically, so an interrupted batch leaves
each learner's record whole or absent."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from grader.files import write_atomically

RECORD_SCHEMA = "dockerlab-batch-record/1"
GRADED, ERROR = "graded", "error"  # the grading ran (whatever its score), or it could not


@dataclass(frozen=True)
class LearnerRecord:
    learner: str
    status: str  # GRADED or ERROR
    content_hash: str  # of what was graded (roster.content_hash)
    duration_s: float
    graded_at: str  # ISO 8601, UTC
    error: str = ""  # why the grading could not run (status ERROR)
    result: dict | None = None  # the JSON result (schema dockerlab-result/1) when GRADED

    @property
    def graded(self) -> bool:
        return self.status == GRADED

    def checks(self) -> dict[str, float]:
        """Points per check, by a column name stable across learners
        ("lab/ML4-SIZE final image ≤ 30 MB")."""
        if self.result is None:
            return {}
        points: dict[str, float] = {}
        for exercise in self.result["exercises"]:
            for check in exercise["checks"]:
                column = f"{exercise['id']}/{check['rule_id']} {check['title']}"
                while column in points:  # the same check twice: numbered apart
                    column += "'"
                points[column] = check["points"]
        return points


def record_path(out: Path, learner: str) -> Path:
    return out / "learners" / learner / "record.json"


def save(out: Path, record: LearnerRecord) -> None:
    write_atomically(record_path(out, record.learner),
                     json.dumps({"schema": RECORD_SCHEMA, **asdict(record)}, indent=2,
                                ensure_ascii=False) + "\n")


def load(out: Path, learner: str) -> LearnerRecord | None:
    """The learner's last record, or None when there is none (or it is not ours)."""
    try:
        data = json.loads(record_path(out, learner).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.pop("schema", None) != RECORD_SCHEMA:
        return None
    return LearnerRecord(**data)
