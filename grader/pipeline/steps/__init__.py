"""One module per pipeline step; each defines the needs it provides (see grader.pipeline)."""
