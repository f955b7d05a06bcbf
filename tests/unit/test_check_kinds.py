"""Every check kind, and the implicit ML4-BUILD and ML4-RUN, passing and failing through the
runner on a fake engine: the verdict, the points and what the learner reads (what, where,
how to fix). The last test fails when a kind is registered without both verdicts here."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from grader.checks import KINDS
from grader.engine import BuildRequest, Completion, ImageLayer, LayerEntry
from grader.pipeline.steps import run as run_step
from grader.results import CheckResult, ExerciseResult, Status
from grader.runner import grade
from tests.fake_engine import (
    Answers,
    Build,
    Exits,
    FakeEngine,
    Ran,
    Recorded,
    Refused,
    Silent,
    exercise,
    quick_readiness,
    service,
    write_files,
    write_lab,
)

PASSED, FAILED, SKIPPED, ADVICE = Status.PASSED, Status.FAILED, Status.SKIPPED, Status.ADVICE

GO_TWO_STAGES = """\
FROM diamol/golang:2e AS builder
WORKDIR /src
COPY main.go .
RUN go build -o /server
FROM diamol/base:2e
EXPOSE 80
CMD ["/web/server"]
COPY --from=builder /server /web/server
"""

NODE_DEPENDENCIES_FIRST = """\
FROM diamol/node:2e AS builder
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci
FROM diamol/node:2e
WORKDIR /app
COPY --from=builder /src/node_modules node_modules
COPY . .
EXPOSE 80
CMD ["node", "src/app.js"]
"""
NODE_COPY_ALL_FIRST = NODE_DEPENDENCIES_FIRST.replace("COPY package.json package-lock.json ./",
                                                      "COPY . .")
NODE_FILES = {
    "app/package.json": "{}\n",
    "app/package-lock.json": "{}\n",
    "app/src/app.js": "console.log('hi')\n",
}
NPM = {"kind": "dependency-order", "step": "npm (ci|install)",
       "inputs": ["package.json", "package-lock.json"], "points": 5}

# --- which kinds have both verdicts here ---------------------------------------------------

COVERED: set[tuple[str, Status]] = set()


def verdict(kind: str, status: Status):
    """Marks a test as showing `kind` giving `status` (the test asserts it)."""

    def mark(test):
        COVERED.add((kind, status))
        return test

    return mark


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DOCKERLAB_CACHE", str(tmp_path / "cache"))  # no remembered outcomes
    monkeypatch.chdir(tmp_path)  # paths show as the learner knows them: app/Dockerfile
    quick_readiness(monkeypatch)


def graded(tmp_path: Path, dockerfile: str | None, *checks: dict, engine: FakeEngine | None = None,
           files: dict[str, str] | None = None, **keys) -> ExerciseResult:
    """Grade one exercise, `app`, whose Dockerfile is app/Dockerfile."""
    write_files(tmp_path, files or {"app/main.go": "package main\n"})
    if dockerfile is not None:
        write_files(tmp_path, {"app/Dockerfile": dockerfile})
    (tmp_path / "app").mkdir(exist_ok=True)
    lab = write_lab(tmp_path, exercise("app", checks=list(checks), **keys))
    return grade(lab, tmp_path, engine or FakeEngine()).exercises[0]


def result_of(exercise_result: ExerciseResult, rule_id: str) -> CheckResult:
    (found,) = [check for check in exercise_result.checks if check.rule_id == rule_id]
    return found


def assert_verdict(result: CheckResult, status: Status, points: float, *fragments: str,
                   at: str | None = None) -> None:
    """`status` and `points`, each fragment in what the learner reads; a failure says how to
    fix it and, with `at`, where (file:line)."""
    __tracebackhide__ = True
    assert result.status is status, f"expected {status.value}, got {result.status.value}: {result.what}"
    assert result.points == points, f"expected {points} points, got {result.points}"
    text = "\n".join((result.what, result.fix, result.details))
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in:\n{text}"
    if status in (FAILED, ADVICE):
        assert result.fix, "a failure must say how to fix it"
    if at is not None:
        assert str(result.location) == at, result.location


def layer(index: int, command: str, *entries: tuple[str, str]) -> ImageLayer:
    return ImageLayer(index, command, [LayerEntry(path, kind, 10) for path, kind in entries])


# --- ML4-BUILD ------------------------------------------------------------------------------


@verdict("build", PASSED)
def test_build_passes_and_counts_the_steps_from_cache(tmp_path: Path):
    engine = FakeEngine({"app": Recorded(build=Build(breaks_at="RUN go build"))})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, engine=engine, build={"points": 5}),
                       "ML4-BUILD")
    assert_verdict(result, PASSED, 5, "Built dockerlab/app in 1.5 s (2 of 8 steps from cache).")


@verdict("build", FAILED)
def test_build_failing_in_a_run_step_points_at_its_line_with_the_output(tmp_path: Path):
    failing = Build(
        fails_at="RUN go build",
        error="The command '/bin/sh -c go build -o /server' returned a non-zero code: 1",
        output=("# app", "./main.go:5:2: undefined: fmt"),
    )
    engine = FakeEngine({"app": Recorded(build=failing)})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, engine=engine), "ML4-BUILD")
    assert_verdict(
        result, FAILED, 0,
        "Step 4/8 `RUN go build -o /server` failed: The command '/bin/sh -c go build -o /server' "
        "returned a non-zero code: 1",
        "Read the command's output above",
        "./main.go:5:2: undefined: fmt",
        at="app/Dockerfile:4",
    )


def test_build_failing_to_copy_says_paths_are_relative_to_the_context(tmp_path: Path):
    failing = Build(fails_at="COPY main.go", error="COPY failed: file not found in build "
                    "context or excluded by .dockerignore: stat main.go: file does not exist")
    engine = FakeEngine({"app": Recorded(build=failing)})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, engine=engine), "ML4-BUILD")
    assert_verdict(result, FAILED, 0, "Step 3/8 `COPY main.go .` failed",
                   "Paths in COPY are relative to the build context (app/)", at="app/Dockerfile:3")


def test_build_stopped_by_its_time_out_names_the_step(tmp_path: Path):
    hanging = Build(fails_at="RUN go build", timed_out=True, output=("downloading...",))
    engine = FakeEngine({"app": Recorded(build=hanging)})
    result = result_of(
        graded(tmp_path, GO_TWO_STAGES, engine=engine, build={"timeout_s": 60}), "ML4-BUILD"
    )
    assert_verdict(result, FAILED, 0,
                   "The build was stopped after 60 s during step 4/8 `RUN go build -o /server`.",
                   "a build must finish on its own", "downloading...", at="app/Dockerfile:4")


def test_build_rejected_by_docker_points_at_the_line_it_names(tmp_path: Path):
    text = "FROM diamol/base:2e\nFORM diamol/base\n"
    rejected = Build(error="dockerfile parse error line 2: unknown instruction: FORM")
    engine = FakeEngine({"app": Recorded(build=rejected)})
    result = result_of(graded(tmp_path, text, engine=engine), "ML4-BUILD")
    assert_verdict(result, FAILED, 0, "Docker rejected the Dockerfile: dockerfile parse error "
                   "line 2: unknown instruction: FORM", at="app/Dockerfile:2")


def test_build_rejecting_a_heredoc_says_only_buildkit_reads_it(tmp_path: Path):
    text = "FROM diamol/golang:2e\nRUN <<EOF\ngo build -o /server\nEOF\n"
    rejected = Build(error="dockerfile parse error line 3: unknown instruction: GO")
    engine = FakeEngine({"app": Recorded(build=rejected)})
    result = result_of(graded(tmp_path, text, engine=engine), "ML4-BUILD")
    assert_verdict(result, FAILED, 0, "Line 2 starts a heredoc (`<<`), which only BuildKit reads",
                   "joined with `&&`", at="app/Dockerfile:2")


def test_build_with_buildkit_platform_args_is_numbered_as_the_learners_file(tmp_path: Path):
    text = GO_TWO_STAGES.replace("FROM diamol/golang:2e", "FROM --platform=$BUILDPLATFORM diamol/golang:2e")
    failing = Build(fails_at="RUN go build", error="returned a non-zero code: 2")
    engine = FakeEngine({"app": Recorded(build=failing)})
    result = result_of(graded(tmp_path, text, engine=engine), "ML4-BUILD")
    assert_verdict(result, FAILED, 0, "Step 4/8 `RUN go build -o /server` failed",
                   at="app/Dockerfile:4")
    (build,) = engine.sandboxes[0].made("build")
    request: BuildRequest = build.args["request"]
    assert request.first_line_added and request.build_args["BUILDPLATFORM"] == "linux/amd64"
    assert request.dockerfile_text.startswith("ARG BUILDPLATFORM=linux/amd64 ")


def test_build_without_a_dockerfile_builds_nothing(tmp_path: Path):
    engine = FakeEngine()
    result = result_of(graded(tmp_path, None, engine=engine), "ML4-BUILD")
    assert_verdict(result, FAILED, 0, "There is no Dockerfile at app/Dockerfile.",
                   "Create app/Dockerfile", at="app/Dockerfile")
    assert engine.sandboxes[0].made("build") == []


# --- ML4-RUN --------------------------------------------------------------------------------


@verdict("run", PASSED)
def test_run_passes_once_the_ready_probe_answers(tmp_path: Path):
    engine = FakeEngine({"app": Recorded(service=Answers({"GET /health": (200, "ok")}))})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, engine=engine,
                              run=service("web", points=4)), "ML4-RUN")
    assert_verdict(result, PASSED, 4, "web answered GET /health with 200 after")
    (started,) = engine.sandboxes[0].made("start_service", "app")
    # A network of the session's own, never the chapter's shared `nat` (issue 9).
    session = engine.sandboxes[0].session
    assert started.args["network"] == f"nat-{session}" and started.args["alias"] == "web"


def test_run_without_a_ready_probe_passes_while_the_container_runs(tmp_path: Path):
    result = result_of(graded(tmp_path, GO_TWO_STAGES, run={"name": "web"}), "ML4-RUN")
    assert_verdict(result, PASSED, 10, "Container web is running.")


@verdict("run", FAILED)
def test_run_fails_when_the_container_exits_and_shows_its_log(tmp_path: Path):
    exits = Exits(2, logs="exec /web/server: no such file or directory\n")
    engine = FakeEngine({"app": Recorded(service=exits)})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, engine=engine, run=service("web")),
                       "ML4-RUN")
    assert_verdict(result, FAILED, 0, "The container exited with code 2",
                   "a server must keep running", "`docker run --rm -p 8080:80 dockerlab/app`",
                   "exec /web/server: no such file or directory", at="app/Dockerfile:5")


def test_run_says_when_the_container_ran_out_of_memory(tmp_path: Path):
    engine = FakeEngine({"app": Recorded(service=Exits(137, oom_killed=True))})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, engine=engine, run=service("web")),
                       "ML4-RUN")
    assert_verdict(result, FAILED, 0, "exited with code 137 (killed: out of memory)")


def test_run_fails_when_docker_refuses_to_start_it(tmp_path: Path):
    refused = Refused('exec: "/web/server": stat /web/server: no such file or directory')
    engine = FakeEngine({"app": Recorded(service=refused)})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, engine=engine, run=service("web")),
                       "ML4-RUN")
    assert_verdict(result, FAILED, 0, "Docker could not start the container: exec: "
                   '"/web/server"', "Check CMD/ENTRYPOINT in the final stage",
                   at="app/Dockerfile:5")


class FakeClock:
    """The run step's clock: sleeping moves it on at once."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_run_fails_when_the_container_never_answers(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(run_step, "time", FakeClock())
    # Busy all along: still starting, as far as the grader can tell, so it waits it out.
    engine = FakeEngine({"app": Recorded(service=Silent(logs="listening on :8080\n", busy=True))})
    run = service("web", ready={"path": "/health", "timeout_s": 5})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, engine=engine, run=run), "ML4-RUN")
    assert_verdict(result, FAILED, 0,
                   "web did not answer GET /health on container port 80 within 5 s "
                   "(last: ConnectionError). It waited 5.0 s; at 4.5 s it was busy (CPU 100 %) "
                   "and listened on no TCP port.",
                   "The app must listen on port 80 inside the container",
                   "listening on :8080", at="app/Dockerfile:5")


# --- ML4-STAGES, ML4-BASE, ML4-ORDER, ML4-INSTR: the Dockerfile only ---------------------


@verdict("stages", PASSED)
def test_stages_passes_for_a_build_and_a_runtime_stage(tmp_path: Path):
    result = result_of(graded(tmp_path, GO_TWO_STAGES, {"kind": "stages", "points": 5}),
                       "ML4-STAGES")
    assert_verdict(result, PASSED, 5, "2 stages (builder, stage 1) build the final image; "
                   "it copies --from=builder (line 8).")


@verdict("stages", FAILED)
def test_stages_fails_for_a_single_stage(tmp_path: Path):
    text = "FROM diamol/golang:2e\nCOPY main.go .\nRUN go build -o /server\n"
    result = result_of(graded(tmp_path, text, {"kind": "stages", "points": 5}), "ML4-STAGES")
    assert_verdict(result, FAILED, 0, "The Dockerfile has a single stage (FROM diamol/golang:2e, "
                   "line 1)", "FROM diamol/golang:2e AS builder", at="app/Dockerfile:1")


@verdict("final-base", PASSED)
def test_final_base_passes_for_the_runtime_image(tmp_path: Path):
    check = {"kind": "final-base", "allowed": ["diamol/base", "scratch"], "points": 5}
    result = result_of(graded(tmp_path, GO_TWO_STAGES, check), "ML4-BASE")
    assert_verdict(result, PASSED, 5, "The final image is based on diamol/base:2e "
                   "(FROM diamol/base:2e at line 5).")


@verdict("final-base", FAILED)
def test_final_base_fails_for_the_sdk(tmp_path: Path):
    text = GO_TWO_STAGES.replace("FROM diamol/base:2e", "FROM diamol/golang:2e")
    check = {"kind": "final-base", "allowed": ["diamol/base"], "forbidden": ["diamol/golang"],
             "points": 5}
    result = result_of(graded(tmp_path, text, check), "ML4-BASE")
    assert_verdict(result, FAILED, 0, "The final image is based on diamol/golang:2e, which this "
                   "exercise forbids", "  FROM diamol/base\n  COPY --from=builder",
                   at="app/Dockerfile:5")


@verdict("dependency-order", PASSED)
def test_dependency_order_passes_when_only_the_manifests_come_first(tmp_path: Path):
    result = result_of(graded(tmp_path, NODE_DEPENDENCIES_FIRST, NPM, files=NODE_FILES),
                       "ML4-ORDER")
    assert_verdict(result, PASSED, 5, "`RUN npm ci` (line 4) runs after copying only "
                   "package.json, package-lock.json")


@verdict("dependency-order", FAILED)
def test_dependency_order_fails_when_everything_is_copied_first(tmp_path: Path):
    result = result_of(graded(tmp_path, NODE_COPY_ALL_FIRST, NPM, files=NODE_FILES), "ML4-ORDER")
    assert_verdict(result, FAILED, 0, "`COPY . .` (line 3) copies the whole build context (.) "
                   "before `RUN npm ci` (line 4) in stage builder",
                   "  COPY package.json package-lock.json ./\n  RUN npm ci\n  COPY . .",
                   at="app/Dockerfile:3")


@verdict("instructions", PASSED)
def test_instructions_pass_with_expose_and_cmd(tmp_path: Path):
    check = {"kind": "instructions", "expose": [80], "exec_form": True, "points": 2}
    result = result_of(graded(tmp_path, GO_TWO_STAGES, check), "ML4-INSTR")
    assert_verdict(result, PASSED, 2, 'The final stage has EXPOSE 80, `CMD ["/web/server"]` '
                   "(line 7).")


@verdict("instructions", FAILED)
def test_instructions_fail_when_the_final_stage_lacks_them(tmp_path: Path):
    text = GO_TWO_STAGES.replace("EXPOSE 80\n", "").replace('CMD ["/web/server"]\n', "")
    check = {"kind": "instructions", "expose": [80], "points": 2}
    result = result_of(graded(tmp_path, text, check), "ML4-INSTR")
    assert_verdict(result, FAILED, 0, "does not EXPOSE 80, and has no CMD or ENTRYPOINT",
                   '  EXPOSE 80\n  CMD ["/web/server"]', at="app/Dockerfile:5")


# --- ML4-LINT (hadolint itself) -------------------------------------------------------------

NEEDS_LINT = 'FROM diamol/base:2.0\nRUN cd /tmp && echo hi\nCMD ["sh"]\n'


@verdict("lint", PASSED)
def test_lint_passes_for_a_clean_file(tmp_path: Path):
    result = result_of(graded(tmp_path, 'FROM diamol/base:2.0\nCMD ["sh"]\n',
                              {"kind": "lint", "points": 2}), "ML4-LINT")
    assert_verdict(result, PASSED, 2, "hadolint has no advice for app/Dockerfile.")


@verdict("lint", FAILED)
def test_lint_with_points_fails_for_a_warning(tmp_path: Path):
    result = result_of(graded(tmp_path, NEEDS_LINT, {"kind": "lint", "points": 2}), "ML4-LINT")
    assert_verdict(result, FAILED, 0, "hadolint reports 1 warning in app/Dockerfile.",
                   "app/Dockerfile:2 DL3003 warning: Use WORKDIR", at="app/Dockerfile:2")


@verdict("lint", ADVICE)
def test_lint_without_points_is_advice(tmp_path: Path):
    result = result_of(graded(tmp_path, NEEDS_LINT, {"kind": "lint"}), "ML4-LINT")
    assert_verdict(result, ADVICE, 0, "hadolint reports 1 warning",
                   "https://github.com/hadolint/hadolint/wiki/DL3003")


# --- ML4-TOOLS, ML4-SIZE, ML4-META, ML4-USER: the built image ------------------------------

BASE_LAYER = layer(0, "/bin/sh -c #(nop) ADD file:4a1 in / ", ("/bin/busybox", "file"))
SERVER_LAYER = layer(2, "/bin/sh -c #(nop) COPY file:9f2 in /web/server ",
                     ("/web/server", "file"))
GO_LAYER = layer(1, "/bin/sh -c #(nop) ADD file:77c in / ", ("/usr/local/go/bin/go", "file"),
                 ("/usr/local/go/bin/gofmt", "file"))
TOOLS = {"kind": "forbidden-tools", "tools": ["go"], "points": 5}


@verdict("forbidden-tools", PASSED)
def test_forbidden_tools_passes_when_no_layer_adds_them(tmp_path: Path):
    engine = FakeEngine({"app": Recorded(layers=[BASE_LAYER, SERVER_LAYER])})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, TOOLS, engine=engine), "ML4-TOOLS")
    assert_verdict(result, PASSED, 5, "None of go is in the image's layers.")


@verdict("forbidden-tools", FAILED)
def test_forbidden_tools_fails_when_the_sdk_ships(tmp_path: Path):
    engine = FakeEngine({"app": Recorded(layers=[BASE_LAYER, GO_LAYER, SERVER_LAYER])})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, TOOLS, engine=engine), "ML4-TOOLS")
    assert_verdict(result, FAILED, 0, "`go` is in the final image at /usr/local/go/bin/go "
                   "(added by layer 2: `ADD file:77c in /`).", "`COPY --from=builder` just the built "
                   "artifact", "go: /usr/local/go/bin/go", at="app/Dockerfile:5")


def test_forbidden_tools_fails_when_a_later_layer_only_hides_them(tmp_path: Path):
    removing = layer(2, "/bin/sh -c rm -rf /usr/local/go", ("/usr/local/go", "whiteout"))
    engine = FakeEngine({"app": Recorded(layers=[BASE_LAYER, GO_LAYER, removing])})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, TOOLS, engine=engine), "ML4-TOOLS")
    assert_verdict(result, FAILED, 0, "The final stage deletes `go` (/usr/local/go/bin/go) in "
                   "`RUN rm -rf /usr/local/go`, but the layer that added it (`ADD file:77c in /`) "
                   "still ships inside the image.", "without making the image smaller")


@verdict("size", PASSED)
def test_size_passes_within_the_budget(tmp_path: Path):
    engine = FakeEngine({"app": Recorded(image={"size_bytes": 12_340_000})})
    check = {"kind": "size", "max_mb": 30, "points": 5}
    result = result_of(graded(tmp_path, GO_TWO_STAGES, check, engine=engine), "ML4-SIZE")
    assert_verdict(result, PASSED, 5, "The image is 12.3 MB (budget 30 MB).")


@verdict("size", FAILED)
def test_size_fails_over_the_budget_and_names_the_final_base(tmp_path: Path):
    engine = FakeEngine({"app": Recorded(image={"size_bytes": 300_000_000})})
    text = "FROM diamol/golang:2e\nCOPY main.go .\nRUN go build -o /server\n"
    check = {"kind": "size", "max_mb": 30, "points": 5}
    result = result_of(graded(tmp_path, text, check, engine=engine), "ML4-SIZE")
    assert_verdict(result, FAILED, 0, "The image is 300.0 MB; the budget is 30 MB (10.0× over). "
                   "Its final stage starts from diamol/golang:2e.", "start the final stage from "
                   "a small runtime image", at="app/Dockerfile:1")


META = {"kind": "metadata", "exposed_ports": [80], "env": {"USER": "sixeyed"}, "points": 3}


@verdict("metadata", PASSED)
def test_metadata_passes_when_the_image_is_configured(tmp_path: Path):
    image = {"exposed_ports": ("80/tcp",), "env": {"USER": "sixeyed", "PATH": "/bin"}}
    engine = FakeEngine({"app": Recorded(image=image)})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, META, engine=engine), "ML4-META")
    assert_verdict(result, PASSED, 3, "The image's configuration is as expected.")


@verdict("metadata", FAILED)
def test_metadata_gives_part_of_the_points_for_part_of_the_config(tmp_path: Path):
    engine = FakeEngine({"app": Recorded(image={"exposed_ports": ("80/tcp",), "env": {}})})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, META, engine=engine), "ML4-META")
    assert_verdict(result, FAILED, 1.5, "In the final image USER is unset, expected 'sixeyed'.",
                   'ENV USER="sixeyed"', at="app/Dockerfile:5")


USER = {"kind": "non-root-user", "points": 2}


@verdict("non-root-user", PASSED)
def test_non_root_user_passes_for_a_numeric_uid(tmp_path: Path):
    engine = FakeEngine({"app": Recorded(image={"user": "65534"})})
    text = GO_TWO_STAGES + "USER 65534\n"
    result = result_of(graded(tmp_path, text, USER, engine=engine), "ML4-USER")
    assert_verdict(result, PASSED, 2, "The image runs as '65534', not root.")


@verdict("non-root-user", FAILED)
def test_non_root_user_fails_without_a_user(tmp_path: Path):
    engine = FakeEngine({"app": Recorded(image={"user": ""})})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, USER, engine=engine), "ML4-USER")
    assert_verdict(result, FAILED, 0, "The image sets no USER, so it runs as root.",
                   "Make `USER 65534` (nobody) the final stage's last USER",
                   at="app/Dockerfile:5")


def test_non_root_user_points_at_the_last_user_line(tmp_path: Path):
    engine = FakeEngine({"app": Recorded(image={"user": "root"})})
    text = GO_TWO_STAGES + "USER root\n"
    result = result_of(graded(tmp_path, text, USER, engine=engine), "ML4-USER")
    assert_verdict(result, FAILED, 0, "The image runs as root (its User is 'root'). The final "
                   "stage's last USER is `USER root`.", at="app/Dockerfile:9")


# --- ML4-CACHE: the probe's rebuild -------------------------------------------------------

CACHE = {"kind": "cache", "change": "src/app.js", "cached_step": "npm (ci|install)", "points": 5}


@verdict("cache", PASSED)
def test_cache_passes_when_the_step_comes_from_cache(tmp_path: Path):
    seen: list[str] = []

    def probe(request: BuildRequest) -> Build:
        seen.append((request.context_dir / "src/app.js").read_text())
        return Build(breaks_at="COPY . .")

    engine = FakeEngine({"app": Recorded(probe=probe)})
    result = result_of(graded(tmp_path, NODE_DEPENDENCIES_FIRST, CACHE, engine=engine,
                              files=NODE_FILES), "ML4-CACHE")
    assert_verdict(result, PASSED, 5, "After changing src/app.js, `RUN npm ci` came from the "
                   "build cache.")
    # A changed copy of the context, not the learner's folder, was rebuilt.
    (changed,) = seen
    assert changed.startswith("console.log('hi')\n") and changed.strip() == "console.log('hi')"
    assert changed != (tmp_path / "app/src/app.js").read_text()
    (rebuild,) = engine.sandboxes[0].made("build", throwaway=True)
    assert rebuild.args["request"].labels == {} and not rebuild.args["request"].no_cache


@verdict("cache", FAILED)
def test_cache_fails_when_a_copy_before_the_step_breaks_it(tmp_path: Path):
    engine = FakeEngine({"app": Recorded(probe=Build(breaks_at="COPY . ."))})
    result = result_of(graded(tmp_path, NODE_COPY_ALL_FIRST, CACHE, engine=engine,
                              files=NODE_FILES), "ML4-CACHE")
    assert_verdict(result, FAILED, 0, "Changing src/app.js re-ran `RUN npm ci` (line 4): "
                   "`COPY . .` (line 3) copies src/app.js, so Docker re-ran every later step of "
                   "that stage.", "Before `RUN npm ci`, COPY only the files it needs",
                   at="app/Dockerfile:3")


def test_cache_fails_when_no_step_runs_the_expensive_command(tmp_path: Path):
    text = NODE_DEPENDENCIES_FIRST.replace("RUN npm ci", "RUN echo no install")
    engine = FakeEngine({"app": Recorded(probe=Build(breaks_at="COPY . ."))})
    result = result_of(graded(tmp_path, text, CACHE, engine=engine, files=NODE_FILES),
                       "ML4-CACHE")
    assert_verdict(result, FAILED, 0, "None of the build's 10 steps runs `npm (ci|install)`",
                   "Give the build a step of its own for it")


def test_cache_fails_when_the_changed_context_no_longer_builds(tmp_path: Path):
    broken = Build(breaks_at="COPY . .", fails_at="COPY . .", error="no space left on device")
    engine = FakeEngine({"app": Recorded(probe=broken)})
    result = result_of(graded(tmp_path, NODE_COPY_ALL_FIRST, CACHE, engine=engine,
                              files=NODE_FILES), "ML4-CACHE")
    assert_verdict(result, FAILED, 0, "After changing src/app.js the image no longer builds: "
                   "no space left on device")


def test_cache_fails_when_the_file_to_change_is_missing(tmp_path: Path):
    engine = FakeEngine()
    files = {name: text for name, text in NODE_FILES.items() if "src/" not in name}
    result = result_of(graded(tmp_path, NODE_DEPENDENCIES_FIRST, CACHE, engine=engine,
                              files=files), "ML4-CACHE")
    assert_verdict(result, FAILED, 0, "The build context has no src/app.js to change (a file inside",
                   "Restore src/app.js in")
    assert engine.sandboxes[0].made("build", throwaway=True) == []


def test_cache_never_writes_through_a_link_out_of_the_context(tmp_path: Path):
    # The probe appends a line to its copy of the file: through a link, that would be a
    # write to the grader's host (issue 9).
    host_file = tmp_path / "host" / "profile"
    host_file.parent.mkdir()
    host_file.write_text("export SECRET=1\n")
    submission = tmp_path / "submission"
    files = {name: text for name, text in NODE_FILES.items() if "src/" not in name}
    write_files(submission, files)
    (submission / "app/src").mkdir(parents=True)
    (submission / "app/src/app.js").symlink_to(host_file)
    (submission / "app/fifo").parent.mkdir(exist_ok=True)
    os.mkfifo(submission / "app/fifo")  # copying it would block: left out of the copy
    engine = FakeEngine()
    result = result_of(graded(submission, NODE_DEPENDENCIES_FIRST, CACHE, engine=engine,
                              files=files), "ML4-CACHE")
    assert_verdict(result, FAILED, 0, "The build context has no src/app.js to change")
    assert host_file.read_text() == "export SECRET=1\n"
    assert engine.sandboxes[0].made("build", throwaway=True) == []


# --- ML4-HTTP, ML4-CMD: the running container ----------------------------------------------

IMAGE_JSON = json.dumps({"url": "https://apod.nasa.gov/a.jpg", "caption": "Sun & Moon",
                         "copyright": "NASA"})
API = {"kind": "http", "path": "/image", "json_keys": ["url", "caption", "copyright"],
       "points": 5}


def web(routes: dict) -> FakeEngine:
    return FakeEngine({"app": Recorded(service=Answers(routes))})


@verdict("http", PASSED)
def test_http_passes_when_the_answer_has_every_key(tmp_path: Path):
    engine = web({"GET /image": (200, IMAGE_JSON)})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, API, engine=engine, run=service("web")),
                       "ML4-HTTP")
    assert_verdict(result, PASSED, 5, "GET /image on web answered 200 as expected.")


@verdict("http", FAILED)
def test_http_fails_for_another_status_and_shows_the_answer(tmp_path: Path):
    engine = web({"GET /image": (500, "java.lang.NullPointerException")})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, API, engine=engine, run=service("web")),
                       "ML4-HTTP")
    assert_verdict(result, FAILED, 0, "GET /image on web answered 500; expected 200.",
                   "Compare with the app's README", "java.lang.NullPointerException")


def test_http_gives_part_of_the_points_for_part_of_the_keys(tmp_path: Path):
    engine = web({"GET /image": (200, json.dumps({"url": "u"}))})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, API, engine=engine, run=service("web")),
                       "ML4-HTTP")
    assert_verdict(result, FAILED, 1.67, "GET /image on web answered 200 but lacks key "
                   "'caption', key 'copyright'.")


def test_http_without_an_answer_shows_the_container_log(tmp_path: Path):
    engine = FakeEngine({"app": Recorded(service=Answers({"GET /image": None},
                                                         logs="panic: nil map\n"))})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, API, engine=engine, run=service("web")),
                       "ML4-HTTP")
    assert_verdict(result, FAILED, 0, "GET /image on web got no answer (ReadTimeout).",
                   "panic: nil map")


def test_http_sends_the_json_body(tmp_path: Path):
    engine = web({"POST /access-log": (201, "")})
    check = {"kind": "http", "method": "POST", "path": "/access-log",
             "json": {"clientIp": "10.0.0.1"}, "status": 201, "points": 3}
    result = result_of(graded(tmp_path, GO_TWO_STAGES, check, engine=engine,
                              run=service("web")), "ML4-HTTP")
    assert_verdict(result, PASSED, 3, "POST /access-log on web answered 201 as expected.")
    (call,) = engine.sandboxes[0].made("http", "app", method="POST")
    assert call.args["json_body"] == {"clientIp": "10.0.0.1"}


def test_http_finds_a_value_another_service_serves(tmp_path: Path):
    write_files(tmp_path, {"app/Dockerfile": GO_TWO_STAGES, "app/main.go": "package main\n",
                           "iotd/Dockerfile": GO_TWO_STAGES})
    page = "<h1>Sun &amp; Moon</h1>"
    engine = FakeEngine({
        "iotd": Recorded(service=Answers({"GET /image": (200, IMAGE_JSON)})),
        "app": Recorded(service=Answers({"GET /": (200, page)})),
    })
    check = {"kind": "http", "path": "/", "points": 5,
             "text_from": {"exercise": "iotd", "path": "/image", "key": "caption"}}
    lab = write_lab(
        tmp_path,
        exercise("iotd", run=service("iotd")),
        exercise("app", run=service("web", depends_on=["iotd"]), checks=[check]),
    )
    result = result_of(grade(lab, tmp_path, engine).exercises[1], "ML4-HTTP")
    assert_verdict(result, PASSED, 5, "GET / on web answered 200 as expected.")

    engine.recorded["app"] = Recorded(service=Answers({"GET /": (200, "<h1>No image</h1>")}))
    result = result_of(grade(lab, tmp_path, engine).exercises[1], "ML4-HTTP")
    assert_verdict(result, FAILED, 0, "GET / on web answered 200 but lacks text 'Sun & Moon'.",
                   "talk to each other by their network aliases")


def test_http_says_when_the_service_it_reads_from_is_not_running(tmp_path: Path):
    write_files(tmp_path, {"app/Dockerfile": GO_TWO_STAGES, "iotd/Dockerfile": GO_TWO_STAGES})
    engine = FakeEngine({"iotd": Recorded(service=Exits(1))})
    check = {"kind": "http", "path": "/", "points": 5,
             "text_from": {"exercise": "iotd", "path": "/image", "key": "caption"}}
    lab = write_lab(
        tmp_path,
        exercise("iotd", run=service("iotd")),
        exercise("app", run=service("web", depends_on=["iotd"]), checks=[check]),
    )
    result = result_of(grade(lab, tmp_path, engine).exercises[1], "ML4-HTTP")
    assert_verdict(result, FAILED, 0, "This check needs the iotd container, which is not "
                   "running.", "Make the iotd exercise build and run first.")


NODE_REQUIRE = 'node -e "require(\'ipaddr.js\')"'
COMMAND = {"kind": "command", "command": NODE_REQUIRE, "points": 3,
           "why": "The final stage must COPY --from the builder the node_modules folder."}


@verdict("command", PASSED)
def test_command_passes_when_it_exits_as_expected(tmp_path: Path):
    engine = FakeEngine({"app": Recorded(commands={NODE_REQUIRE: Ran(0)})})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, COMMAND, engine=engine,
                              run=service("web")), "ML4-CMD")
    assert_verdict(result, PASSED, 3, f"`{NODE_REQUIRE}` exited 0 as expected.")


@verdict("command", FAILED)
def test_command_fails_with_its_output_and_the_labs_reason(tmp_path: Path):
    failing = Ran(1, "", "Error: Cannot find module 'ipaddr.js'\n")
    engine = FakeEngine({"app": Recorded(commands={NODE_REQUIRE: failing})})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, COMMAND, engine=engine,
                              run=service("web")), "ML4-CMD")
    assert_verdict(result, FAILED, 0, f"`{NODE_REQUIRE}` exited 1 (expected 0).",
                   "The final stage must COPY --from the builder the node_modules folder.",
                   "Cannot find module 'ipaddr.js'")


def test_command_names_missing_output(tmp_path: Path):
    engine = FakeEngine({"app": Recorded(commands={"node --version": Ran(0, "v16.20.2\n")})})
    check = {"kind": "command", "command": "node --version", "stdout": ["v18"], "points": 1}
    result = result_of(graded(tmp_path, GO_TWO_STAGES, check, engine=engine,
                              run=service("web")), "ML4-CMD")
    assert_verdict(result, FAILED, 0, "`node --version` exited 0; its output lacks 'v18'.")


def test_command_in_an_image_without_a_shell(tmp_path: Path):
    no_shell = Ran(126, "", 'OCI runtime exec failed: exec: "/bin/sh": stat /bin/sh: '
                   "no such file or directory")
    engine = FakeEngine({"app": Recorded(commands={NODE_REQUIRE: no_shell})})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, COMMAND, engine=engine,
                              run=service("web")), "ML4-CMD")
    assert_verdict(result, FAILED, 0, f"`{NODE_REQUIRE}` could not run: the final image has "
                   "no /bin/sh.")


def test_command_missing_from_an_image_with_a_shell_is_not_a_missing_shell(tmp_path: Path):
    not_found = Ran(127, "", "/bin/sh: 1: node: not found\n")  # dash; busybox says the same
    engine = FakeEngine({"app": Recorded(commands={NODE_REQUIRE: not_found})})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, COMMAND, engine=engine,
                              run=service("web")), "ML4-CMD")
    assert "has no /bin/sh" not in result.what
    assert_verdict(result, FAILED, 0, f"`{NODE_REQUIRE}` exited 127 (expected 0).",
                   "node: not found")


# --- ML4-OUTPUT: the image run to completion -----------------------------------------------

OUTPUT = {"kind": "output", "contains": ["Building...", "Testing..."], "points": 5}


@verdict("output", PASSED)
def test_output_passes_with_every_line_in_order(tmp_path: Path):
    engine = FakeEngine({"app": Recorded(completion=Completion(0, "Building...\nTesting...\n"))})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, OUTPUT, engine=engine), "ML4-OUTPUT")
    assert_verdict(result, PASSED, 5, "The output has every expected line, in order.")
    (ran,) = engine.sandboxes[0].made("run_to_completion", "app")
    assert ran.args["timeout_s"] == 30


@verdict("output", FAILED)
def test_output_gives_part_of_the_points_for_the_lines_found(tmp_path: Path):
    engine = FakeEngine({"app": Recorded(completion=Completion(0, "Building...\n"))})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, OUTPUT, engine=engine), "ML4-OUTPUT")
    assert_verdict(result, FAILED, 2.5, "The output lacks 'Testing...' after the earlier lines "
                   "(1 of 2 found).", "Each stage must COPY --from the previous one")


def test_output_fails_for_another_exit_code(tmp_path: Path):
    done = Completion(1, "cat: can't open '/build.txt': No such file or directory\n")
    engine = FakeEngine({"app": Recorded(completion=done)})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, OUTPUT, engine=engine), "ML4-OUTPUT")
    assert_verdict(result, FAILED, 0, "The container exited with code 1; expected 0.",
                   "can't open '/build.txt'")


def test_output_fails_when_the_command_never_ends(tmp_path: Path):
    engine = FakeEngine({"app": Recorded(completion=Completion(None, "Building...\n"))})
    result = result_of(graded(tmp_path, GO_TWO_STAGES, OUTPUT, engine=engine), "ML4-OUTPUT")
    assert_verdict(result, FAILED, 0, "The container was still running after 30 s.",
                   "should print and exit")


# --- every kind has both verdicts ----------------------------------------------------------


def test_every_kind_has_a_passing_and_a_failing_case_here():
    kinds = [*KINDS, "build", "run"]
    missing = [
        f"{kind}: {status.value}"
        for kind in kinds
        for status in (PASSED, FAILED)
        if (kind, status) not in COVERED
    ]
    assert not missing, "add a test marked @verdict(kind, status) for: " + ", ".join(missing)
