"""Grading a whole class: a roster of learners, a resumable batch, a gradebook and a report.

- `roster`: who is graded and where their files are (a folder of folders, or a CSV roster
  whose git URLs are cloned), and the content hash of what is graded;
- `records`: one learner's grading as kept on disk (`learners/<name>/record.json`);
- `batch`: the parallel, resumable, interruptible batch;
- `gradebook`: `gradebook.csv`, one row per learner;
- `report`: the self-contained HTML report.
"""
