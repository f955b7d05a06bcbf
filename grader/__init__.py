"""dockerlab: a teaching lab and exercise grader for Docker multi-stage builds."""

__version__ = "0.1.0"
