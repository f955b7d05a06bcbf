"""The `dockerlab` command. Exit codes: 0 when the lab's verdict passes (its required checks
passed and the pass mark is reached: docs/reference/verdict.md), 1 when it fails, 2 when
grading could not run (no engine, bad spec, missing folder), 130 on Ctrl-C."""

from __future__ import annotations

import functools
import os
import signal
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from grader.errors import DockerlabError, SpecError
from grader.paths import project_root
from grader.reporters import FORMATS

EXIT_PASSED, EXIT_BELOW_PASS_MARK, EXIT_CANNOT_GRADE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_SOME_NOT_GRADED = 1  # batch: some learner's grading could not run

err = Console(stderr=True)


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, interrupt)  # clean up like Ctrl-C when CI stops us
    try:
        return cli.main(args=argv, prog_name="dockerlab", standalone_mode=False) or EXIT_PASSED
    except DockerlabError as error:
        err.print(f"[bold red]error:[/] {error.message}", highlight=False)
        if error.hint:
            err.print(f"[yellow]hint:[/] {error.hint}", highlight=False)
        return EXIT_CANNOT_GRADE
    except click.ClickException as error:
        error.show()
        return EXIT_CANNOT_GRADE
    except click.exceptions.Abort:
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        err.print("interrupted: everything the grader started was removed.")
        return EXIT_INTERRUPTED


def interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


def report_options(_context, _parameter, values: tuple[str, ...]) -> list[tuple[str, Path]]:
    """`--report FORMAT:PATH` values as (format, path) pairs."""
    from grader.reporters import FORMATS

    pairs = []
    for value in values:
        fmt, _, path = value.partition(":")
        if fmt not in FORMATS or not path:
            raise click.BadParameter(
                f"{value!r}: give FORMAT:PATH, FORMAT one of {', '.join(FORMATS)}")
        pairs.append((fmt, Path(path)))
    return pairs


@click.group(help="Docker multi-stage build labs: set up, grade, publish.")
@click.version_option(package_name="dockerlab")
def cli() -> None:
    pass


@cli.command(help="Make sure a Docker engine answers (install and start one when root).")
def engine() -> int:
    from grader.infra.engine import ensure_engine

    ready = ensure_engine(on_progress=lambda line: err.print(f"engine: {line}", highlight=False))
    version = ready.version
    err.print(
        f"Docker engine {version.get('Version')} (API {version.get('ApiVersion')}) is ready.",
        highlight=False,
    )
    return EXIT_PASSED


@cli.command(help="List the diamol/* base images; with --ensure, pull or build what is missing.")
@click.option("--ensure", is_flag=True, help="Pull or build missing images (offline stand-ins).")
def images(ensure: bool) -> int:
    from grader.engine import connect
    from grader.infra.baseimages import describe_base_images, ensure_base_images
    from grader.infra.engine import ensure_engine

    if ensure:
        engine = ensure_engine()
        ensure_base_images(engine, on_progress=lambda line: err.print(f"images: {line}", highlight=False))
    else:
        engine = connect()
    table = Table("image", "source", "size", "tools")
    for status in describe_base_images(engine):
        table.add_row(
            status.name,
            status.source if status.present else "[red]missing[/]",
            f"{status.size_mb:.1f} MB" if status.present else "",
            "; ".join(status.tools),
        )
    Console().print(table)
    return EXIT_PASSED


def gradescope_results_on_error(command):
    """Gradescope shows the learner only results.json: when grading cannot run (exit code 2),
    the Gradescope reports asked for still get one (score 0, the error and its hint)."""

    @functools.wraps(command)
    def grade_or_explain(**options):
        try:
            return command(**options)
        except (DockerlabError, click.ClickException) as error:
            from grader.files import write_atomically
            from grader.reporters.gradescope import render_error

            message = getattr(error, "message", None) or error.format_message()
            text = render_error(message, getattr(error, "hint", ""), options["lab"])
            paths = [path for fmt, path in options["reports"] if fmt == "gradescope"]
            if options["fmt"] == "gradescope":
                if options["output"] is None:
                    click.echo(text, nl=False)
                else:
                    paths.append(options["output"])
            for path in paths:
                write_atomically(path, text)
            raise

    return grade_or_explain


@cli.command(help="Grade a lab: build, inspect, run and score each exercise.")
@click.argument("lab")
@click.argument("exercises", nargs=-1)
@click.option("--path", "path", type=click.Path(path_type=Path), help="Submission folder (default: the lab's own folder).")
@click.option("--solution", is_flag=True, help="Grade the reference solutions (instructors).")
@click.option("--instructor", is_flag=True,
              help="Also run the lab's hidden checks (instructors; learners' runs leave them out).")
@click.option(
    "--format", "fmt", default="terminal", type=click.Choice(list(FORMATS)),
    help="Report format.",
)
@click.option("--output", type=click.Path(path_type=Path), help="Write the report there (the terminal report still shows).")
@click.option(
    "--report", "reports", multiple=True, metavar="FORMAT:PATH", callback=report_options,
    help="Also write the report in FORMAT to PATH (repeatable), e.g. "
    "--report junit:results.xml --report json:result.json.",
)
@click.option("--quiet", is_flag=True, help="No live progress; just the report.")
@click.option("--tag-prefix", default="", envvar="DOCKERLAB_TAG_PREFIX",
              help="Prefix for the image tags (keeps several graders apart); DOCKERLAB_TAG_PREFIX.")
@click.option("--no-cache", is_flag=True, help="Build without the engine's build cache.")
@click.option("--verbose", is_flag=True, help="Show every build line, also when not on a terminal.")
@gradescope_results_on_error
def grade(lab, exercises, path, solution, instructor, fmt, output, reports, quiet, tag_prefix,
          no_cache, verbose) -> int:
    from grader.infra.baseimages import ensure_base_images
    from grader.infra.engine import ensure_engine
    from grader.pipeline.config import RunConfig
    from grader.files import write_atomically
    from grader.reporters import render
    from grader.reporters.terminal import LiveProgress
    from grader.runner import grade as grade_lab

    spec = load(lab)
    if solution and path:
        raise click.UsageError("--solution and --path name different folders; give one.")
    submission = (spec.solution_dir if solution else (path or spec.lab_dir)).resolve()
    engine = ensure_engine(on_progress=lambda line: err.print(f"engine: {line}", highlight=False))
    ensure_base_images(engine, on_progress=lambda line: err.print(f"images: {line}", highlight=False))
    progress = LiveProgress(err, quiet=quiet, verbose=verbose)
    config = RunConfig(tag_prefix=tag_prefix, no_cache=no_cache, instructor=instructor)
    try:
        result = grade_lab(spec, submission, engine, list(exercises), progress, config)
    finally:
        progress.close()
    color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    for report_format, report_path in reports:
        write_atomically(report_path, render(result, report_format))
    if output is not None:
        write_atomically(output, render(result, fmt))
        click.echo(render(result, "terminal", color=color), nl=False)
    else:
        click.echo(render(result, fmt, color=color), nl=False)
    if fmt == "github" and os.environ.get("GITHUB_STEP_SUMMARY"):
        from grader.reporters.github import summary_markdown

        with open(os.environ["GITHUB_STEP_SUMMARY"], "a") as summary:
            summary.write(summary_markdown(result))
    return EXIT_PASSED if result.passed else EXIT_BELOW_PASS_MARK


@cli.command(help="Grade a whole class: SUBMISSIONS is a folder of learner folders or a CSV "
             "roster (student,path-or-git-url[,ref]). Resumable: a learner is graded again only "
             "when their files changed or their grading could not run. Exit 0 when every "
             "learner was graded, 1 when some grading could not run, 130 when interrupted.")
@click.argument("lab")
@click.argument("submissions", type=click.Path(exists=True, path_type=Path))
@click.argument("exercises", nargs=-1)
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder for the gradebook, the report and each learner's results "
              "(default: dockerlab-batch/<lab>).")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Learners graded side by side (default: one per core).")
@click.option("--format", "formats", multiple=True, default=("json",), show_default=True,
              type=click.Choice(list(FORMATS)),
              help="A result file per learner in this format (repeatable).")
@click.option("--only", multiple=True, metavar="LEARNER",
              help="Grade these learners again, changed or not (repeatable).")
@click.option("--retry-failed", is_flag=True, help="Grade only the learners whose grading could not run.")
@click.option("--tag-prefix", default="", envvar="DOCKERLAB_TAG_PREFIX",
              help="Prefix for the image tags (keeps several graders apart); DOCKERLAB_TAG_PREFIX.")
@click.option("--keep-images", is_flag=True, help="Keep each learner's images (tagged batch-<learner>-…).")
@click.option("--shard", metavar="K/N", help="Grade only part K of N of the roster (a CI "
              "matrix job; a learner's part follows from their name). `dockerlab merge` "
              "combines the parts.")
@click.option("--engine", "engine_urls", multiple=True, metavar="URL",
              help="Grade on this engine (repeatable: each learner goes to the engine with "
              "the fewest gradings under way). A URL as DOCKER_HOST takes it (unix://, "
              "tcp://, ssh://; TLS from DOCKER_TLS_VERIFY and DOCKER_CERT_PATH) or a docker "
              "context name (its own TLS files). Default: DOCKER_HOST, else the local engine. "
              "See docs/instructors/engines.md.")
@click.option("--quiet", is_flag=True, help="No progress; just the summary.")
def batch(lab, submissions, exercises, out, jobs, formats, only, retry_failed, tag_prefix,
          keep_images, shard, engine_urls, quiet) -> int:
    from grader.classroom.batch import Batch, BatchOptions, Shard, default_jobs, engine_cores
    from grader.classroom.progress import BatchDisplay
    from grader.classroom.roster import read_roster
    from grader.infra.engine import connect_engines, ensure_base_images_on, ensure_engine

    spec = load(lab)
    for name in exercises:
        spec.exercise(name)  # an unknown exercise is a usage error before any work
    out = (out or Path("dockerlab-batch") / spec.id).resolve()
    learners = read_roster(submissions.resolve(), out / "checkouts")
    say_engine = lambda line: err.print(f"engine: {line}", highlight=False)  # noqa: E731
    if engine_urls:  # each must answer; none is started
        engines = connect_engines(list(engine_urls), on_progress=say_engine)
    else:
        engines = [ensure_engine(on_progress=say_engine)]
    ensure_base_images_on(engines, on_progress=lambda line: err.print(f"images: {line}",
                                                                       highlight=False))
    if jobs is None:  # several engines: as many learners at once as they have cores together
        jobs = default_jobs() if len(engines) == 1 else sum(map(engine_cores, engines))
    options = BatchOptions(jobs=jobs, formats=tuple(dict.fromkeys(formats)),
                           exercises=tuple(exercises), only=tuple(only),
                           retry_failed=retry_failed, tag_prefix=tag_prefix,
                           keep_images=keep_images, shard=Shard.parse(shard) if shard else None)
    display = BatchDisplay(err, spec.id, quiet=quiet)
    try:
        summary = Batch(spec, learners, engines, out, options, display).run()
    finally:
        display.close()
    click.echo(f"{spec.id}: {summary.graded} graded ({summary.passed} passed), "
               f"{summary.errored} could not be graded, {summary.unchanged} unchanged, "
               f"in {summary.duration_s:.0f} s; gradebook: {summary.gradebook}, report: "
               f"{summary.report}")
    return EXIT_PASSED if summary.errored == 0 else EXIT_SOME_NOT_GRADED


@cli.command(help="Combine the --out folders of a sharded batch (`batch --shard K/N`) into "
             "one gradebook and report.")
@click.argument("lab")
@click.argument("shards", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Folder for the merged gradebook, report and learners' results.")
def merge(lab, shards, out) -> int:
    from grader.classroom.merge import merge as merge_shards

    spec = load(lab)
    merged = merge_shards(spec, [shard.resolve() for shard in shards], out.resolve())
    click.echo(f"{spec.id}: {len(merged)} learner(s) from {len(shards)} shard(s) in "
               f"{out / 'gradebook.csv'} and {out / 'report.html'}")
    return EXIT_PASSED


@cli.command(help="Write a ready CI or LMS set-up for LAB into OUT: a GitHub Actions workflow "
             "(.github/workflows/dockerlab.yml), a GitLab CI job (.gitlab-ci.yml) or a Gradescope "
             "autograder bundle (autograder/ and autograder.zip).")
@click.argument("lab")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--github", "kind", flag_value="github", help="GitHub Actions / GitHub Classroom.")
@click.option("--gitlab", "kind", flag_value="gitlab", help="GitLab CI with Docker-in-Docker.")
@click.option("--gradescope", "kind", flag_value="gradescope", help="A Gradescope autograder.")
@click.option("--docker-host", default="tcp://grader.example.edu:2376", show_default=True,
              help="Gradescope: the engine that grades (DOCKER_HOST, over TLS).")
def ci(lab, out, kind, docker_host) -> int:
    from grader.ci import write_github, write_gitlab, write_gradescope

    if kind is None:
        raise click.UsageError("Choose one of --github, --gitlab, --gradescope.")
    spec = load(lab)
    if kind == "gradescope":
        written = write_gradescope(spec, out, docker_host)
    else:
        written = (write_github if kind == "github" else write_gitlab)(spec, out)
    for path in written:
        click.echo(f"wrote {path}")
    return EXIT_PASSED


@cli.command(help="Write the learner's repository for LAB into OUT (a fresh git repository, "
             "ready to push as a GitHub Classroom template): starters, apps, grader, docs, "
             "notebooks and the CI workflow, without the solutions and the hidden checks.")
@click.argument("lab")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
def release(lab, out) -> int:
    from grader.release import release as make_release

    made = make_release(load(lab), out.resolve())
    click.echo(f"released {made.files} files to {made.folder} (a git repository): no file of "
               f"the {made.solution_files} solution files, {made.hidden_removed} hidden "
               "check(s) removed")
    return EXIT_PASSED


@cli.command(help="Validate a lab spec and that every file it names exists (instructors).")
@click.argument("lab")
def check(lab) -> int:
    from grader.labcheck import missing_files

    spec = load(lab)
    problems = missing_files(spec)
    if problems:
        raise SpecError(
            f"{len(problems)} file(s) that {spec.source.name} names are missing:\n"
            + "\n".join(f"  {problem}" for problem in problems),
            hint="Fix the paths in the spec or add the files.",
        )
    click.echo(f"{spec.id}: {len(spec.exercises)} exercises, spec and files OK.")
    return EXIT_PASSED


@cli.command(help="Remove what an interrupted grading left behind: containers, networks, "
             "throw-away images and empty build cgroups.")
def clean() -> int:
    from grader.engine import connect, remove_leftover_cgroups, remove_leftovers

    engine = connect()
    removed = remove_leftovers(engine, owner="grader")
    cgroups = remove_leftover_cgroups(engine)
    click.echo(f"removed {removed} leftover container(s), network(s) and throw-away image(s), "
               f"and {cgroups} empty build cgroup(s)")
    return EXIT_PASSED


@cli.command(help="Write LAB's Jupyter notebooks into OUT, one per README language "
             "(<lab>.en.ipynb from README.md, <lab>.ko.ipynb from README.ko.md): the "
             "instructions, each exercise's build, run and grade commands, and a last cell "
             "that grades and shows the result table. Same input, same bytes.")
@click.argument("lab")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("notebooks"), show_default=True, help="Folder for the notebooks.")
def notebook(lab, out) -> int:
    from grader.notebook import write_notebooks

    for path in write_notebooks(load(lab), out):
        click.echo(f"wrote {path}")
    return EXIT_PASSED


def load(lab: str):
    from grader.spec import load_lab

    return load_lab(find_lab(lab))


def find_lab(name: str) -> Path:
    """A lab by name (labs/<name>/lab.yml here or in the checkout), folder or file."""
    given = Path(name)
    candidates = [given, given / "lab.yml", Path("labs") / name / "lab.yml"]
    root = project_root()
    if root is not None:
        candidates.append(root / "labs" / name / "lab.yml")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise SpecError(
        f"No lab named '{name}' (looked for {', '.join(str(c) for c in candidates[1:])}).",
        hint="Run `dockerlab grade lab4` from the repository folder, or pass a lab.yml path.",
    )
