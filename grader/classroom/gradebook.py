"""`gradebook.csv`: one row per graded learner — total, percent, verdict, points per
exercise and per check, duration, and the content hash of what was graded. Rewritten
whole (atomically) after every learner, so it is never seen half-written."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from grader.classroom.records import LearnerRecord
from grader.files import write_atomically

GRADEBOOK = "gradebook.csv"
LEADING = ["student", "status", "score", "max_score", "percent", "verdict", "duration_s",
           "content_hash", "graded_at", "error"]


def rows(records: list[LearnerRecord]) -> tuple[list[str], list[dict[str, object]]]:
    """The gradebook's columns and its rows (by learner name)."""
    exercises: list[str] = []
    checks: list[str] = []
    table = []
    for record in sorted(records, key=lambda item: item.learner):
        row: dict[str, object] = {
            "student": record.learner, "status": record.status,
            "duration_s": f"{record.duration_s:.1f}", "content_hash": record.content_hash,
            "graded_at": record.graded_at, "error": record.error,
        }
        if record.result is not None:
            result = record.result
            row.update(score=result["score"], max_score=result["max_score"],
                       percent=f"{result['percent']:.1f}",
                       verdict="passed" if result["passed"] else "failed")
            for exercise in result["exercises"]:
                column = f"{exercise['id']} points"
                row[column] = exercise["score"]
                if column not in exercises:
                    exercises.append(column)
            for column, points in record.checks().items():
                row[column] = points
                if column not in checks:
                    checks.append(column)
        table.append(row)
    return LEADING + exercises + checks, table


def write(out: Path, records: list[LearnerRecord]) -> Path:
    columns, table = rows(records)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    path = out / GRADEBOOK
    write_atomically(path, text.getvalue())
    return path
