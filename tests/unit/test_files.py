"""Reports and gradebooks are written whole or not at all, readable like a plain write."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from grader import files
from grader.files import write_atomically


def test_a_file_is_replaced_whole_with_a_plain_writes_mode(tmp_path: Path):
    target = tmp_path / "out" / "gradebook.csv"
    write_atomically(target, "old\n")
    write_atomically(target, "new\n")
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == files.FILE_MODE
    assert sorted(os.listdir(target.parent)) == ["gradebook.csv"]  # no temporary left


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch):
    target = tmp_path / "result.json"
    write_atomically(target, "{}\n")

    def interrupted(*_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, '{"half": ')
    assert target.read_text() == "{}\n"
    assert os.listdir(tmp_path) == ["result.json"]
