"""The result as JSON, for scripts and dashboards. Keys are stable within a schema version."""

from __future__ import annotations

import json

from grader.results import LabResult

SCHEMA = "dockerlab-result/1"  # bump when a key is renamed or removed, not when one is added


def render(result: LabResult) -> str:
    return json.dumps({"schema": SCHEMA, **result.to_dict()}, indent=2, ensure_ascii=False) + "\n"
