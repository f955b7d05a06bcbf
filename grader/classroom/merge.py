"""`dockerlab merge`: the result folders of a sharded batch (`--shard K/N`, one per CI
matrix job) combined into one gradebook and report, as one unsharded batch makes them."""

from __future__ import annotations

import shutil
from pathlib import Path

from grader.classroom import gradebook, records
from grader.classroom.batch import LEARNERS, write_report
from grader.classroom.records import LearnerRecord
from grader.errors import DockerlabError
from grader.spec import LabSpec


def merge(lab: LabSpec, shards: list[Path], out: Path) -> list[LearnerRecord]:
    """Copy each shard's learners into `out/learners`, write the gradebook and the report; a learner
    found in two shards keeps the record graded last. The records, by learner."""
    newest: dict[str, tuple[LearnerRecord, Path]] = {}
    for shard in shards:
        folder = shard / LEARNERS
        if not folder.is_dir():
            raise DockerlabError(f"{shard} holds no batch results (no {LEARNERS}/ folder).",
                                 hint="Give the --out folders of `dockerlab batch --shard`.")
        for learner_folder in sorted(folder.iterdir()):
            record = records.load(shard, learner_folder.name)
            if record is None:
                continue  # not finished in that shard
            kept = newest.get(record.learner)
            if kept is None or record.graded_at > kept[0].graded_at:
                newest[record.learner] = (record, learner_folder)
    for name, (_, source) in newest.items():
        target = out / LEARNERS / name
        if target.resolve() != source.resolve():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target)
    merged = [record for record, _ in newest.values()]
    gradebook.write(out, merged)
    write_report(lab, out, merged)
    return sorted(merged, key=lambda record: record.learner)
