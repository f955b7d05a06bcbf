"""The check kinds that read only the Dockerfile: both verdicts of each, on small fixtures,
configured through a real lab.yml as a lab author writes it."""

import json
from pathlib import Path

import pytest

from grader.errors import SpecError
from grader.pipeline.job import ExerciseJob
from grader.pipeline.steps import parse
from grader.results import Outcome
from grader.spec import load_lab
from tests.fake_engine import FakeEngine, exercise_jobs

STATIC_KINDS = ["stages", "final-base", "dependency-order", "instructions", "lint"]
MINIMAL_PARAMETERS = {
    "final-base": {"forbidden": ["diamol/golang"]},
    "dependency-order": {"step": "npm install", "inputs": ["package.json"]},
}

GO_TWO_STAGES = """\
FROM diamol/golang AS builder
COPY main.go .
RUN go build -o /server

FROM diamol/base
EXPOSE 80
CMD ["/web/server"]
COPY --from=builder /server /web/server
"""


def job_for(
    tmp_path: Path,
    dockerfile: str | None,
    *checks: dict,
    build: dict | None = None,
    files: tuple[str, ...] = (),
) -> ExerciseJob:
    """One exercise whose Dockerfile and build context live in tmp_path/app, graded on a
    fake engine (static checks never call it)."""
    app = tmp_path / "app"
    app.mkdir(exist_ok=True)
    for name in files:
        (app / name).write_text("{}\n")
    if dockerfile is not None:
        (app / "Dockerfile").write_text(dockerfile)
    lab = {
        "version": 1,
        "id": "lab4",
        "title": "Multi-stage builds",
        "pass_mark": 50,
        "exercises": [
            {
                "id": "app",
                "title": "The app",
                "dockerfile": "app/Dockerfile",
                "image": "dockerlab/app",
                "build": build or {},
                "checks": list(checks),
            }
        ],
    }
    (tmp_path / "lab.yml").write_text(json.dumps(lab))  # JSON is YAML too
    spec = load_lab(tmp_path / "lab.yml")
    return exercise_jobs(spec, tmp_path, FakeEngine().session())["app"]


def outcome_of(tmp_path: Path, dockerfile: str | None, check: dict, **options) -> Outcome:
    job = job_for(tmp_path, dockerfile, check, **options)
    judged = job.exercise.checks[0]
    for need in judged.needs():
        assert job.fulfil(need) == "", f"{need} is unavailable"
    outcome = judged.judge(job.facts)
    assert job.sandbox.calls == [], "a static check must not call the engine"
    return outcome


def assert_fails_at(outcome: Outcome, line: int | None, *fragments: str) -> None:
    __tracebackhide__ = True
    assert not outcome.passed, f"expected a failure, got: {outcome.what}"
    assert outcome.location is not None and outcome.location.line == line, outcome.location
    assert outcome.fix, "a failure must say how to fix it"
    text = outcome.what + "\n" + outcome.fix
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in:\n{text}"


# --- shared behaviour -------------------------------------------------------------------


@pytest.mark.parametrize("kind", STATIC_KINDS)
def test_missing_dockerfile_is_a_failure_naming_the_path(tmp_path: Path, kind: str):
    outcome = outcome_of(tmp_path, None, {"kind": kind, **MINIMAL_PARAMETERS.get(kind, {})})
    assert_fails_at(outcome, None, "There is no Dockerfile at", "app/Dockerfile")


@pytest.mark.parametrize("kind", STATIC_KINDS)
def test_every_kind_describes_itself(tmp_path: Path, kind: str):
    job = job_for(tmp_path, GO_TWO_STAGES, {"kind": kind, **MINIMAL_PARAMETERS.get(kind, {})})
    check = job.exercise.checks[0]
    assert check.describe() and check.rule_id.startswith("ML4-")


def test_unknown_build_target_is_a_failure(tmp_path: Path):
    outcome = outcome_of(tmp_path, GO_TWO_STAGES, {"kind": "stages"}, build={"target": "web"})
    assert_fails_at(outcome, None, "has no stage named 'web'", "FROM <image> AS web")


# --- ML4-STAGES ----------------------------------------------------------------------------


def test_stages_passes_for_numbered_stages(tmp_path: Path):
    text = GO_TWO_STAGES.replace(" AS builder", "").replace("--from=builder", "--from=0")
    outcome = outcome_of(tmp_path, text, {"kind": "stages"})
    assert outcome.passed, outcome.what
    assert "2 stages (stage 0, stage 1)" in outcome.what and "--from=0 (line 8)" in outcome.what


def test_stages_fails_for_a_single_stage_at_its_from_line(tmp_path: Path):
    text = "# the chapter's starting point\nFROM diamol/golang\nRUN go build -o /server\n"
    outcome = outcome_of(tmp_path, text, {"kind": "stages"})
    assert_fails_at(
        outcome, 2, "single stage", "FROM diamol/golang AS builder", "COPY --from=builder"
    )


def test_stages_fails_when_the_final_stage_never_copies(tmp_path: Path):
    text = 'FROM diamol/golang AS builder\nRUN go build -o /server\nFROM diamol/base\nCMD ["sh"]\n'
    outcome = outcome_of(tmp_path, text, {"kind": "stages"})
    assert_fails_at(
        outcome, 3, "never copies", "COPY --from=builder", "Not used by the final image"
    )


def test_stages_is_not_fooled_by_an_extra_stage_after_the_real_one(tmp_path: Path):
    text = GO_TWO_STAGES + "\nFROM diamol/golang AS test\nRUN go vet\n"
    outcome = outcome_of(tmp_path, text, {"kind": "stages"})
    assert_fails_at(outcome, 10, "stage test", "`docker build` produces the last stage (test)")


def test_stages_follows_the_build_target(tmp_path: Path):
    text = GO_TWO_STAGES.replace("FROM diamol/base", "FROM diamol/base AS app")
    text += "\nFROM diamol/golang AS test\nRUN go vet\n"
    outcome = outcome_of(tmp_path, text, {"kind": "stages"}, build={"target": "app"})
    assert outcome.passed, outcome.what


def test_stages_counts_a_copy_from_an_image_as_no_stage(tmp_path: Path):
    text = (
        "FROM diamol/golang AS builder\n"
        "FROM diamol/base\n"
        "COPY --from=diamol/golang /usr/bin/go /go\n"
    )
    outcome = outcome_of(tmp_path, text, {"kind": "stages"})
    assert_fails_at(outcome, 2, "--from=diamol/golang (line 3) names an image")


THREE_STAGES = """\
FROM diamol/base AS build-stage
RUN echo 'Building...' > /build.txt

FROM diamol/base AS test-stage
COPY --from=build-stage /build.txt /build.txt
RUN echo 'Testing...' >> /build.txt

FROM diamol/base
COPY --from=test-stage /build.txt /build.txt
CMD cat /build.txt
"""


def test_stages_min_stages_counts_the_chain(tmp_path: Path):
    outcome = outcome_of(tmp_path, THREE_STAGES, {"kind": "stages", "min_stages": 3})
    assert outcome.passed, outcome.what
    assert "3 stages (build-stage, test-stage, stage 2)" in outcome.what


def test_stages_min_stages_ignores_a_stage_nothing_uses(tmp_path: Path):
    text = THREE_STAGES.replace("--from=test-stage", "--from=build-stage")
    outcome = outcome_of(tmp_path, text, {"kind": "stages", "min_stages": 3})
    assert_fails_at(
        outcome,
        8,
        "Only 2 stages (build-stage, stage 2)",
        "stage test-stage (FROM diamol/base, line 4)",
    )


def test_stages_without_copy_from_accepts_a_stage_built_from_another(tmp_path: Path):
    text = 'FROM diamol/node AS deps\nRUN npm ci\nFROM deps AS app\nCMD ["node"]\n'
    assert outcome_of(tmp_path, text, {"kind": "stages", "require_copy_from": False}).passed
    assert not outcome_of(tmp_path, text, {"kind": "stages"}).passed


# --- ML4-BASE ------------------------------------------------------------------------------


def test_final_base_passes_with_tag_and_registry_prefix(tmp_path: Path):
    text = GO_TWO_STAGES.replace("FROM diamol/base", "FROM docker.io/diamol/base:latest")
    outcome = outcome_of(tmp_path, text, {"kind": "final-base", "allowed": ["diamol/base"]})
    assert outcome.passed, outcome.what


def test_final_base_follows_a_stage_parent_to_the_sdk(tmp_path: Path):
    text = (
        "FROM diamol/golang AS builder\n"
        "RUN go build -o /server\n"
        "FROM builder AS final\n"
        'CMD ["/server"]\n'
    )
    outcome = outcome_of(tmp_path, text, {"kind": "final-base", "forbidden": ["diamol/golang"]})
    assert_fails_at(
        outcome,
        3,
        "based on diamol/golang",
        "FROM builder at line 3 -> FROM diamol/golang at line 1",
    )


def test_final_base_resolves_arg_and_build_args(tmp_path: Path):
    text = (
        "ARG RUNTIME=diamol/golang\n"
        "FROM diamol/golang AS builder\n"
        "FROM ${RUNTIME}\n"
        "COPY --from=builder /a /a\n"
    )
    check = {"kind": "final-base", "forbidden": ["diamol/golang", "diamol/maven"]}
    assert_fails_at(
        outcome_of(tmp_path, text, check), 3, "FROM ${RUNTIME} = diamol/golang at line 3"
    )
    overridden = outcome_of(tmp_path, text, check, build={"build_args": {"RUNTIME": "diamol/base"}})
    assert overridden.passed, overridden.what


def test_final_base_accepts_scratch_only_when_listed(tmp_path: Path):
    text = "FROM diamol/golang AS builder\nFROM scratch\nCOPY --from=builder /server /server\n"
    refused = outcome_of(tmp_path, text, {"kind": "final-base", "allowed": ["diamol/base"]})
    assert_fails_at(refused, 2, "based on scratch", "FROM diamol/base")
    listed = outcome_of(
        tmp_path, text, {"kind": "final-base", "allowed": ["diamol/base", "scratch"]}
    )
    assert listed.passed


def test_final_base_needs_allowed_or_forbidden(tmp_path: Path):
    with pytest.raises(SpecError, match="allowed"):
        job_for(tmp_path, GO_TWO_STAGES, {"kind": "final-base"})


# --- ML4-ORDER -----------------------------------------------------------------------------

NODE_INPUTS = {
    "kind": "dependency-order",
    "step": "npm (ci|install)",
    "inputs": ["package.json", "package-lock.json"],
}
NODE_FILES = ("package.json", "package-lock.json", "server.js")


def test_order_passes_when_only_dependency_files_come_first(tmp_path: Path):
    text = (
        "FROM diamol/node AS builder\nWORKDIR /src\n"
        "COPY package.json package-lock.json ./\nRUN npm install\n"
        "FROM diamol/node\nCOPY --from=builder /src/node_modules node_modules\nCOPY . .\n"
    )
    outcome = outcome_of(tmp_path, text, NODE_INPUTS, files=NODE_FILES)
    assert outcome.passed, outcome.what
    assert "(line 4)" in outcome.what


def test_order_fails_for_copy_everything_before_npm_install(tmp_path: Path):
    text = "FROM diamol/node AS builder\nWORKDIR /src\nCOPY . .\nRUN npm install\n"
    outcome = outcome_of(tmp_path, text, NODE_INPUTS, files=NODE_FILES)
    assert_fails_at(
        outcome,
        3,
        "`COPY . .` (line 3) copies the whole build context (.)",
        "`RUN npm install` (line 4)",
        "  COPY package.json package-lock.json ./\n  RUN npm install\n  COPY . .",
    )


def test_order_accepts_a_wildcard_that_picks_only_dependency_files(tmp_path: Path):
    text = "FROM diamol/node\nCOPY package*.json ./\nRUN npm ci\nCOPY . .\n"
    assert outcome_of(tmp_path, text, NODE_INPUTS, files=NODE_FILES).passed
    wider = outcome_of(
        tmp_path, text.replace("package*.json", "*.js*"), NODE_INPUTS, files=NODE_FILES
    )
    assert_fails_at(wider, 2, "*.js* (server.js)")


def test_order_finds_the_step_in_a_multi_line_run(tmp_path: Path):
    text = (
        "FROM diamol/node\n"
        "COPY src/ .\n"
        "RUN apk add --no-cache python3 \\\n"
        "    && npm ci --omit=dev\n"
    )
    assert_fails_at(outcome_of(tmp_path, text, NODE_INPUTS), 2, "src/", "(line 3)")


def test_order_checks_copies_in_the_parent_stage(tmp_path: Path):
    text = (
        "FROM diamol/maven AS sources\nWORKDIR /usr/src\nCOPY . .\n"
        "FROM sources AS builder\nRUN mvn -B dependency:go-offline\nRUN mvn package\n"
        "FROM diamol/openjdk\nCOPY --from=builder /usr/src/target/app.jar .\n"
    )
    check = {
        "kind": "dependency-order",
        "step": "mvn .*dependency:go-offline",
        "inputs": ["pom.xml"],
    }
    assert_fails_at(outcome_of(tmp_path, text, check), 3, "in stage builder", "  COPY pom.xml .\n")


def test_order_prefers_the_stages_that_feed_the_final_image(tmp_path: Path):
    text = (
        "FROM diamol/node AS scratchpad\nCOPY . .\nRUN npm install\n"
        "FROM diamol/node AS builder\nCOPY package.json package-lock.json ./\nRUN npm install\n"
        "FROM diamol/node\nCOPY --from=builder /node_modules /node_modules\n"
    )
    outcome = outcome_of(tmp_path, text, NODE_INPUTS, files=NODE_FILES)
    assert outcome.passed, outcome.what
    assert "(line 6)" in outcome.what


def test_order_fails_when_the_step_is_missing(tmp_path: Path):
    outcome = outcome_of(tmp_path, GO_TWO_STAGES, NODE_INPUTS)
    # Points at the final stage: the place where the learner starts reading.
    assert_fails_at(outcome, 5, "None of the 2 stage(s) has a RUN matching `npm (ci|install)`")


def test_order_rejects_an_invalid_pattern(tmp_path: Path):
    with pytest.raises(SpecError, match="regular expression"):
        job_for(tmp_path, GO_TWO_STAGES, {**NODE_INPUTS, "step": "npm (ci"})


# --- ML4-INSTR -----------------------------------------------------------------------------


def test_instructions_pass_with_expose_and_exec_form_cmd(tmp_path: Path):
    check = {"kind": "instructions", "expose": [80], "exec_form": True}
    outcome = outcome_of(tmp_path, GO_TWO_STAGES, check)
    assert outcome.passed, outcome.what
    assert 'EXPOSE 80, `CMD ["/web/server"]` (line 7)' in outcome.what


def test_instructions_fail_at_the_final_from_when_missing(tmp_path: Path):
    text = (
        "FROM diamol/golang AS builder\n"
        "EXPOSE 80\n"
        'CMD ["/server"]\n'
        "FROM diamol/base\n"
        "COPY --from=builder /server /web/server\n"
    )
    outcome = outcome_of(tmp_path, text, {"kind": "instructions", "expose": [80]})
    assert_fails_at(
        outcome,
        4,
        "does not EXPOSE 80",
        "no CMD or ENTRYPOINT",
        '\n  EXPOSE 80\n  CMD ["/web/server"]',
    )


def test_instructions_are_inherited_from_a_parent_stage(tmp_path: Path):
    text = (
        "FROM diamol/node AS base\n"
        "EXPOSE 80\n"
        'CMD ["node", "server.js"]\n'
        "FROM base AS app\n"
        "COPY . .\n"
    )
    assert outcome_of(tmp_path, text, {"kind": "instructions", "expose": [80]}).passed


def test_instructions_count_only_tcp_ports(tmp_path: Path):
    text = 'FROM diamol/base\nEXPOSE 80/udp 8080/tcp\nENTRYPOINT ["/app"]\n'
    outcome = outcome_of(tmp_path, text, {"kind": "instructions", "expose": [80, 8080]})
    assert_fails_at(outcome, 1, "does not EXPOSE 80 (it exposes 80/udp 8080)")


def test_instructions_exec_form_points_at_the_shell_form_line(tmp_path: Path):
    text = "FROM diamol/base\nEXPOSE 80\nCMD /web/server --port 80\n"
    outcome = outcome_of(tmp_path, text, {"kind": "instructions", "exec_form": True})
    assert_fails_at(outcome, 3, "shell form", 'CMD ["/web/server", "--port", "80"]')
    assert outcome_of(tmp_path, text, {"kind": "instructions"}).passed


# --- ML4-LINT ------------------------------------------------------------------------------

NEEDS_LINT = 'FROM diamol/base:2.0\n# hadolint ignore=DL3003\nRUN cd /tmp && echo hi\nCMD ["sh"]\n'


def test_lint_reports_findings_with_rule_links(tmp_path: Path):
    outcome = outcome_of(tmp_path, NEEDS_LINT, {"kind": "lint"})
    assert "1 warning" in outcome.what
    assert outcome.location.line == 3
    line = next(line for line in outcome.details.splitlines() if " DL3003 " in line)
    assert line.startswith(f"{outcome.location.file}:3 DL3003 warning: Use WORKDIR")
    assert line.endswith("(https://github.com/hadolint/hadolint/wiki/DL3003)")


def test_lint_ignores_the_learners_own_config_and_honours_the_lab_ignore_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / ".hadolint.yaml").write_text("ignored:\n  - DL3003\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HADOLINT_IGNORE", "DL3003")
    assert "DL3003" in outcome_of(tmp_path, NEEDS_LINT, {"kind": "lint"}).details
    ignored = outcome_of(tmp_path, NEEDS_LINT, {"kind": "lint", "ignore": ["DL3003"]})
    assert "DL3003" not in ignored.details


def test_lint_as_advice_shows_every_finding(tmp_path: Path):
    text = 'FROM diamol/base:2.0\nRUN echo $HOME\nCMD ["sh"]\n'  # SC2086 is info
    outcome = outcome_of(tmp_path, text, {"kind": "lint"})
    assert not outcome.passed  # a zero-point check: the runner reports it as ADVICE
    assert "1 info" in outcome.what and "https://www.shellcheck.net/wiki/SC2086" in outcome.details


def test_lint_with_points_passes_when_only_info_remains(tmp_path: Path):
    text = 'FROM diamol/base:2.0\nRUN echo $HOME\nCMD ["sh"]\n'  # SC2086 is info
    assert outcome_of(tmp_path, text, {"kind": "lint", "points": 2}).passed
    assert not outcome_of(tmp_path, NEEDS_LINT, {"kind": "lint", "points": 2}).passed


def test_lint_clean_file(tmp_path: Path):
    outcome = outcome_of(tmp_path, 'FROM diamol/base:2.0\nCMD ["sh"]\n', {"kind": "lint"})
    assert outcome.passed and "no advice" in outcome.what


def test_lint_is_skipped_without_hadolint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(parse, "hadolint_binary", lambda: None)
    outcome = outcome_of(tmp_path, NEEDS_LINT, {"kind": "lint", "points": 2})
    assert outcome.passed
    assert outcome.what.startswith("Lint skipped: hadolint is not installed")


def test_lint_rejects_a_malformed_rule_code(tmp_path: Path):
    with pytest.raises(SpecError, match="ignore"):
        job_for(tmp_path, GO_TWO_STAGES, {"kind": "lint", "ignore": ["3008"]})
