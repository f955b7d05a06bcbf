"""A lab's READMEs as the site's pages (grader/labdocs.py) and the notebooks
(grader/notebook.py) read them: one file per language, cut at its `##` headings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_LANGUAGE = "en"
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)*)")


def readme_paths(lab_dir: Path) -> dict[str, Path]:
    """`README.md` in English, then each `README.<language>.md`, by language."""
    found = {DEFAULT_LANGUAGE: lab_dir / "README.md"} if (lab_dir / "README.md").is_file() else {}
    for path in sorted(lab_dir.glob("README.*.md")):
        found[path.name.split(".")[1]] = path
    return found


@dataclass
class Section:
    """A `## ` section of a README: its heading line (None for the text before the first)
    and its lines, heading included."""

    heading: str | None
    lines: list[str] = field(default_factory=list)

    @property
    def number(self) -> str | None:
        match = NUMBER.match(self.heading or "")
        return match.group(1) if match else None


def split_sections(text: str) -> list[Section]:
    """The README cut at each level-2 heading outside code blocks."""
    sections = [Section(None)]
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        heading = None if fenced else HEADING.match(line)
        if heading and len(heading.group(1)) == 2:
            sections.append(Section(heading.group(2)))
        sections[-1].lines.append(line)
    return sections
