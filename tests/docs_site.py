"""The docs site, built once per test run as `make docs` builds it (mkdocs build --strict),
into a temporary folder: for the tests of the lab pages (tests/unit/test_labdocs.py) and of
the site in a browser (tests/unit/test_site_in_browser.py)."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def build_site(out: Path) -> Path:
    """`mkdocs build --strict` into `out`; a warning fails it, with mkdocs's output."""
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{run.stdout}\n{run.stderr}"
    return out


@cache
def built_site() -> Path:
    """The site, built at the first call of a test run; removed when the run ends."""
    pytest.importorskip("mkdocs", reason="mkdocs is a dev dependency: `make venv` installs it")
    pytest.importorskip("mkdocs_static_i18n", reason="mkdocs-static-i18n: `make venv`")
    folder = Path(tempfile.mkdtemp(prefix="dockerlab-site-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return build_site(folder / "site")
