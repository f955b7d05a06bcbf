"""The terminal report is as wide as the terminal stdout shows (COLUMNS when set): pinned here,
so no test depends on the terminal pytest runs in. Width tests pass their own width."""

import pytest

REPORT_COLUMNS = "100"


@pytest.fixture(autouse=True)
def fixed_report_width(monkeypatch):
    monkeypatch.setenv("COLUMNS", REPORT_COLUMNS)
