"""Grader problems (not learner mistakes): each carries what a person needs to act.

Learner mistakes are check results; these exceptions mean grading could not run at all,
and the CLI turns them into a message, a hint and exit code 2 — never a traceback.
"""


class DockerlabError(Exception):
    """Base for every problem the grader reports to a person instead of a traceback."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class EngineUnavailable(DockerlabError):
    """No Docker engine answers, and this machine cannot start one for us."""


class BaseImageError(DockerlabError):
    """A diamol/* base image is missing and could not be pulled or built."""


class SpecError(DockerlabError):
    """A lab spec (lab.yml) is invalid: names the file, line and field."""


class SubmissionError(DockerlabError):
    """The folder to grade is missing or unreadable."""


class EngineError(DockerlabError):
    """The engine failed a request the grader made (not a learner's mistake): grading stops."""
