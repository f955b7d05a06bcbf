"""The whole-exercise deadline: a bound on the sum of an exercise's steps.

Each step is bounded on its own (the build's time-out, the readiness wait, every HTTP
call); the deadline bounds them together, so a submission cannot keep one exercise busy for
the sum of every bound. It starts when the exercise's job starts; once it has passed, no
step starts any more (the checks that need one are skipped, naming it), and the long waits
(a build, the readiness wait, a run to completion) end at it.
"""

from __future__ import annotations

import math
import threading
import time


class Deadline:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self._ends_at: float | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the clock (once: an exercise both prepared for another and graded keeps
        its first start)."""
        with self._lock:
            if self._ends_at is None:
                self._ends_at = time.monotonic() + self.seconds

    def remaining_s(self) -> float:
        if self._ends_at is None:
            return math.inf
        return max(0.0, self._ends_at - time.monotonic())

    @property
    def passed(self) -> bool:
        return self.remaining_s() <= 0

    def clamp(self, timeout_s: float) -> float:
        """`timeout_s`, or less when the deadline comes first."""
        return min(timeout_s, self.remaining_s())

    @property
    def reason(self) -> str:
        return (f"not checked: the exercise's deadline of {self.seconds:.0f} s had passed "
                "(`deadline_s` in lab.yml bounds the whole exercise: build, run and checks)")
