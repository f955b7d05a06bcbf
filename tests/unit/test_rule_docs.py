"""Every check's stable rule ID has its docs page, as the reports promise."""

from pathlib import Path

from grader.checks import all_check_classes
from grader.checks.build import BuildCheck
from grader.checks.run import RunCheck

REPO = Path(__file__).resolve().parents[2]


def test_every_rule_has_a_page_listed_in_the_index():
    index = (REPO / "docs" / "checks" / "index.md").read_text()
    rules = {cls.rule_id for cls in [*all_check_classes(), BuildCheck, RunCheck]}
    assert len(rules) == len(all_check_classes()) + 2, "two check kinds share a rule ID"
    for rule in rules:
        assert (REPO / "docs" / "checks" / f"{rule}.md").is_file(), rule
        assert f"]({rule}.md)" in index, rule
