"""How fast a class is graded: learners per minute with `--jobs 1` and `--jobs 2`, and the
batch process's peak memory.

The class is warm: LEARNERS copies of the lab's reference solutions, graded once before the
timed runs (images kept) so every build step comes from the cache and every costly check
from the memo. Each timed run writes to a fresh output folder, so every learner is
graded. Peak memory is the batch process's VmHWM (its resident high-water mark), read from
/proc while it runs. The machines here are shared and noisy: quote the ratio of one run.

    .venv/bin/python -m benchmarks.batch_throughput [learners]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TAG_PREFIX = "dockerlab-bench-"
LEARNERS = 8
JOBS_2_OVER_JOBS_1 = 1.6  # target on 2 cores, for warm submissions


def peak_rss_mb(pid: int, until: threading.Event, peaks: list[float]) -> None:
    """Poll /proc/<pid>/status for VmHWM until the process ends."""
    peak = 0.0
    while not until.is_set():
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        except OSError:
            break
        time.sleep(0.05)
    peaks.append(peak)


def timed_batch(class_folder: Path, out: Path, jobs: int) -> tuple[float, float]:
    """(seconds, peak resident MB) of one batch over the class."""
    started = time.monotonic()
    batch = subprocess.Popen(
        # --keep-images: each batch would otherwise untag the learners' images when it ends,
        # and the next one would start from cold final stages, not from warm submissions.
        [sys.executable, "-m", "grader", "batch", "lab4", str(class_folder), "--out", str(out),
         "--jobs", str(jobs), "--tag-prefix", TAG_PREFIX, "--quiet", "--keep-images"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ended, peaks = threading.Event(), []
    watcher = threading.Thread(target=peak_rss_mb, args=(batch.pid, ended, peaks))
    watcher.start()
    stdout, stderr = batch.communicate()
    ended.set()
    watcher.join()
    if batch.returncode != 0:
        raise SystemExit(f"the batch failed ({batch.returncode}): {stdout}{stderr}")
    return time.monotonic() - started, peaks[0]


def untag_learners() -> None:
    """The learners' images the batches kept, untagged (with the final stages only they used)."""
    import docker

    client = docker.from_env()
    for image in client.images.list():
        for tag in image.tags:
            if tag.startswith(f"{TAG_PREFIX}batch-"):
                client.images.remove(tag)


def main(learners: str = str(LEARNERS)) -> int:
    count = int(learners)
    with tempfile.TemporaryDirectory(prefix="dockerlab-bench-") as scratch:
        root = Path(scratch)
        for number in range(count):
            shutil.copytree(REPO / "labs" / "lab4" / "solution", root / "class" / f"learner-{number}")
        try:
            timed_batch(root / "class", root / "warm-up", jobs=2)  # fills the cache and the memo
            one_s, one_mb = timed_batch(root / "class", root / "jobs-1", jobs=1)
            two_s, two_mb = timed_batch(root / "class", root / "jobs-2", jobs=2)
        finally:
            untag_learners()
    per_minute_1, per_minute_2 = count / one_s * 60, count / two_s * 60
    print(f"batch of {count} warm learners, --jobs 1: {one_s:6.1f} s  {per_minute_1:5.1f} "
          f"learners/min  peak {one_mb:5.0f} MB")
    print(f"batch of {count} warm learners, --jobs 2: {two_s:6.1f} s  {per_minute_2:5.1f} "
          f"learners/min  peak {two_mb:5.0f} MB")
    ratio = per_minute_2 / per_minute_1
    print(f"jobs 2 / jobs 1: {ratio:4.2f}x (target >= {JOBS_2_OVER_JOBS_1}x)")
    return 0 if ratio >= JOBS_2_OVER_JOBS_1 else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
