"""`dockerlab ci`: ready-to-use CI and LMS set-ups for one lab, from the templates here.

- `--github`: a GitHub Actions workflow (GitHub Classroom's learner repositories);
- `--gitlab`: a GitLab CI job with a Docker-in-Docker service over TLS;
- `--gradescope`: a Gradescope autograder bundle (`setup.sh`, `run_autograder`, the grader
  and the lab) that grades on a remote engine, since Gradescope's containers have none.

Each file names the lab and nothing else varies: the templates are the documentation's
exact files (docs/instructors/*.md).
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from grader.errors import DockerlabError
from grader.paths import project_root
from grader.spec import LabSpec

TEMPLATES = Environment(loader=PackageLoader("grader.ci", "templates"),
                        undefined=StrictUndefined, keep_trailing_newline=True)
GITHUB_WORKFLOW = Path(".github/workflows/dockerlab.yml")
GITLAB_CI = Path(".gitlab-ci.yml")
EXECUTABLE = 0o755
# What the Gradescope bundle carries of this project to install the grader and grade the lab.
BUNDLED = ("pyproject.toml", "README.md", "grader", "apps")
UNBUNDLED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


def render(template: str, **values: str) -> str:
    return TEMPLATES.get_template(template).render(**values)


def write_github(lab: LabSpec, out: Path) -> list[Path]:
    path = out / GITHUB_WORKFLOW
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render("github-workflow.yml", lab=lab.id))
    return [path]


def write_gitlab(lab: LabSpec, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    path = out / GITLAB_CI
    path.write_text(render("gitlab-ci.yml", lab=lab.id))
    return [path]


def write_gradescope(lab: LabSpec, out: Path,
                     docker_host: str = "tcp://grader.example.edu:2376") -> list[Path]:
    """The autograder's folder and `autograder.zip` beside it (what Gradescope uploads:
    setup.sh and run_autograder at the root)."""
    root = project_root()
    if root is None:
        raise DockerlabError("The Gradescope bundle carries the grader's source, and this "
                             "installation has none.",
                             hint="Run `dockerlab ci` from a checkout of the repository.")
    bundle = out / "autograder"
    shutil.rmtree(bundle, ignore_errors=True)
    bundle.mkdir(parents=True)
    for name in ("setup.sh", "run_autograder", "engine.env"):
        path = bundle / name
        # TLS for an engine over TCP; a local socket (a test, an engine on the same
        # machine) has none, and the SDK would look for certificates if asked to verify.
        tls_verify = "1" if docker_host.startswith("tcp://") else ""
        path.write_text(render(f"gradescope/{name}", lab=lab.id, docker_host=docker_host,
                               tls_verify=tls_verify))
        if name != "engine.env":
            path.chmod(EXECUTABLE)
    (bundle / "certs").mkdir()
    (bundle / "certs" / "README").write_text(
        "Put the engine's client certificates here: ca.pem, cert.pem, key.pem.\n")
    source = bundle / "dockerlab"
    for name in BUNDLED:
        copy(root / name, source / name)
    copy(lab.lab_dir, source / "labs" / lab.lab_dir.name)
    archive = out / "autograder.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(bundle.rglob("*")):
            info = zipfile.ZipInfo.from_file(path, path.relative_to(bundle).as_posix())
            if path.is_file():
                zipped.writestr(info, path.read_bytes())
    return [bundle, archive]


def copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, ignore=UNBUNDLED, symlinks=True)
    else:
        shutil.copy2(source, target)


