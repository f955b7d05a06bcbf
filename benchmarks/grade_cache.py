"""How much the build cache saves a student: grade the reference solutions of a lab twice.

The first run builds with `--no-cache` (what a fresh clone pays), the second changes
nothing, so every step should come from the cache. Prints both wall-clock times and their
ratio; the machines here are shared and noisy, so the ratio from one run is the figure to
quote. Images get their own tag prefix and are removed at the end.

    make bench                     # or: .venv/bin/python benchmarks/grade_cache.py [lab]
"""

import sys
import time
from pathlib import Path

from grader.infra.baseimages import ensure_base_images
from grader.infra.engine import ensure_engine
from grader.runner import grade
from grader.spec import load_lab

REPO = Path(__file__).resolve().parents[1]
TAG_PREFIX = "dockerlab-bench-"
TARGET_RATIO = 5.0


def timed_grade(lab, client, no_cache: bool):
    started = time.monotonic()
    result = grade(lab, lab.solution_dir, client, tag_prefix=TAG_PREFIX, no_cache=no_cache)
    return result, time.monotonic() - started


def main(lab_name: str = "lab4") -> int:
    client = ensure_engine()
    ensure_base_images(client)
    lab = load_lab(REPO / "labs" / lab_name / "lab.yml")
    try:
        first, cold_s = timed_grade(lab, client, no_cache=True)
        second, warm_s = timed_grade(lab, client, no_cache=False)
    finally:
        for exercise in lab.exercises:
            tag = TAG_PREFIX + exercise.image
            if client.images.list(name=tag):
                client.images.remove(tag, force=True)
    ratio = cold_s / warm_s
    print(f"{lab_name} solutions, first run (no cache): {cold_s:7.1f} s  score {first.percent:.0f}%")
    print(f"{lab_name} solutions, second run (cached):  {warm_s:7.1f} s  score {second.percent:.0f}%")
    print(f"speed-up: {ratio:.1f}x (target ≥ {TARGET_RATIO:.0f}x)")
    return 0 if ratio >= TARGET_RATIO and first.passed and second.passed else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
