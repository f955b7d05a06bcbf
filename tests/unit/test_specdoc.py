from pathlib import Path

from grader.specdoc import render

REPO = Path(__file__).resolve().parents[2]


def test_spec_reference_is_current():
    """docs/spec.md is generated; regenerate with `python -m grader.specdoc > docs/spec.md`."""
    assert (REPO / "docs" / "spec.md").read_text() == render()


def test_every_key_of_every_check_kind_is_documented():
    text = render()
    for key in ("max_mb", "cached_step", "json_keys", "text_from", "tools", "depends_on", "pass_mark"):
        assert f"`{key}`" in text
