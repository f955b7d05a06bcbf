from grader.memo import remembered
from grader.results import Location, Outcome


def test_an_outcome_is_computed_once_per_key(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKERLAB_CACHE", str(tmp_path))
    calls = []

    def compute():
        calls.append(1)
        return Outcome(False, "go ships", fix="use a builder", location=Location("Dockerfile", 7))

    first = remembered({"image": "sha256:a"}, compute)
    again = remembered({"image": "sha256:a"}, compute)
    other = remembered({"image": "sha256:b"}, compute)
    assert first == again == other
    assert again.location == Location("Dockerfile", 7)
    assert len(calls) == 2  # once for each image ID


def test_an_unreadable_record_is_computed_again(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKERLAB_CACHE", str(tmp_path))
    remembered({"image": "x"}, lambda: Outcome(True, "cached"))
    for record in (tmp_path / "outcomes").iterdir():
        record.write_text("{not json")
    assert remembered({"image": "x"}, lambda: Outcome(True, "recomputed")).what == "recomputed"
