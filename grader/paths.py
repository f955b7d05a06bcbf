"""Where the project keeps its own files: the checkout and its cache folder."""

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> Path | None:
    """The checkout this package runs from (an editable install), or None when installed."""
    candidate = PACKAGE_DIR.parent
    return candidate if (candidate / "mkdocs.yml").exists() else None


def cache_dir() -> Path:
    """Logs, root filesystems and other throw-away files; `DOCKERLAB_CACHE` overrides it."""
    override = os.environ.get("DOCKERLAB_CACHE")
    if override:
        path = Path(override)
    elif project_root() is not None:
        path = project_root() / ".cache" / "dockerlab"
    else:
        path = Path.home() / ".cache" / "dockerlab"
    path.mkdir(parents=True, exist_ok=True)
    return path
