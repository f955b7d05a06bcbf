"""Layer blame with no engine: the final image's history is made here the way the classic
builder makes it (the base image's rows, one row per instruction of the final stage's
lineage, one LABEL row per label the grader adds; a layer for the rows that change files),
then ML4-TOOLS and ML4-SIZE are judged from it, and the reference solution's size comes
through the runner on the fake engine."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from grader.dockerfile import Dockerfile, Instruction
from grader.engine import HistoryRow, ImageFacts, ImageHistory, ImageLayer, LayerEntry
from grader.pipeline.facts import DockerfileFacts, Facts
from grader.pipeline.steps.blame import BLAME, Origin, blame_rows, fits, row_keyword
from grader.pipeline.steps.build import IMAGE
from grader.pipeline.steps.inspect import LAYERS
from grader.pipeline.steps.reference import REFERENCE, ReferenceFacts
from grader.results import Status
from grader.runner import grade
from grader.spec import load_lab
from tests.fake_engine import Build, FakeEngine, Recorded, exercise, write_files, write_lab

LABELS = {"dockerlab.lab": "demo", "dockerlab.exercise": "app"}
MB = 1_000_000

LAB = """\
version: 1
id: demo
title: Demo
pass_mark: 70
exercises:
  - id: app
    title: App
    dockerfile: app/Dockerfile
    image: demo-app
    checks:
      - {kind: forbidden-tools, tools: [go], points: 5}
      - {kind: size, max_mb: 30, points: 5}
"""


# -- images as the classic builder makes them ------------------------------------------------


@dataclass
class Image:
    history: ImageHistory
    layers: list[ImageLayer] = field(default_factory=list)


def base_image(name: str, *rows: tuple[str, list[tuple[str, str, int]] | None]) -> Image:
    """A base image: each row's words, and the files its layer adds (None: no layer)."""
    image = Image(ImageHistory(f"sha256:{name}", (), ()))
    for created_by, entries in rows:
        add_row(image, created_by, entries)
    return image


def add_row(image: Image, created_by: str, entries: list[tuple[str, str, int]] | None) -> None:
    history = image.history
    size = sum(size for _, _, size in entries or [])
    layer_ids = history.layer_ids
    if entries is not None:
        image.layers.append(ImageLayer(len(image.layers), created_by,
                                       [LayerEntry(*entry) for entry in entries],
                                       history_index=len(history.rows)))
        digest = hashlib.sha256(f"{layer_ids}{created_by}".encode()).hexdigest()[:12]
        layer_ids = (*layer_ids, f"sha256:{digest}")
    image.history = ImageHistory(history.id, (*history.rows, HistoryRow(created_by, size)),
                                 layer_ids)


GOLANG = base_image(
    "golang",
    ("", [("/etc/os-release", "file", 100), ("/bin/sh", "file", 74 * MB)]),
    ("/bin/sh -c apt-get update && apt-get install -y golang-go",
     [("/usr/bin/go", "symlink", 0), ("/usr/lib/go-1.19/bin/go", "file", 466 * MB)]),
    ("/bin/sh -c #(nop)  ENV GOPATH=/go", None),
    ("/bin/sh -c #(nop) WORKDIR /go", [("/go", "dir", 0)]),
    ('/bin/sh -c #(nop)  CMD ["go" "version"]', None),
)
BASE = base_image(
    "base",
    ("/bin/sh -c #(nop) COPY dir:6ac0890d in / ", [("/bin/busybox", "file", 1_980_000)]),
    ("/bin/busybox --install -s", [("/bin/ls", "symlink", 0)]),
    ('/bin/sh -c #(nop)  CMD ["sh"]', None),
)
BASES = {"diamol/golang": GOLANG, "diamol/base": BASE}


def classic_words(instruction: Instruction) -> str:
    """What the classic builder writes in the history for an instruction."""
    if instruction.keyword == "RUN":
        return " ".join(instruction.arguments) if instruction.json_form else (
            "/bin/sh -c " + instruction.value)
    if instruction.keyword in ("COPY", "ADD"):
        digest = hashlib.sha256(instruction.value.encode()).hexdigest()[:16]
        return f"/bin/sh -c #(nop) {instruction.keyword} file:{digest} in {instruction.arguments[-1]} "
    if instruction.keyword == "WORKDIR":
        return f"/bin/sh -c #(nop) WORKDIR {instruction.value}"
    return f"/bin/sh -c #(nop)  {instruction.keyword} {instruction.value}"


def classic_build(text: str, adds: dict[int, list[tuple[str, str, int]]],
                  bases: dict[str, Image] = BASES) -> tuple[Dockerfile, Image]:
    """The final image of `text`: its base image, then a row per instruction of the final
    stage's lineage, a layer for each line in `adds` (the files it adds), the grader's labels."""
    parsed = Dockerfile.from_text(text)
    final = parsed.final
    root = final.root_image()
    base = bases[root] if root != "scratch" else Image(ImageHistory("", (), ()))
    image = Image(replace(base.history, id="sha256:final"), list(base.layers))
    for stage in final.lineage():
        for instruction in stage.instructions:
            add_row(image, classic_words(instruction), adds.get(instruction.line))
    for key, value in sorted(LABELS.items()):
        add_row(image, f"/bin/sh -c #(nop)  LABEL {key}={value}", None)
    return parsed, image


def blamed(text: str, adds: dict[int, list[tuple[str, str, int]]], known_bases=BASES):
    parsed, image = classic_build(text, adds)
    root = parsed.final.root_image()
    return image, blame_rows(parsed.final, image.history,
                             known_bases[root].history if root in known_bases else None, LABELS)


def facts_for(tmp_path: Path, text: str, image: Image, blame, reference=None) -> Facts:
    (tmp_path / "lab.yml").write_text(LAB)
    spec = load_lab(tmp_path / "lab.yml")
    exercise_spec = spec.exercises[0]
    dockerfile = DockerfileFacts(tmp_path / "app" / "Dockerfile", "app/Dockerfile", text,
                                 DockerfileFacts.digest(text.encode()),
                                 parsed=Dockerfile.from_text(text))
    size = sum(row.size for row in image.history.rows)
    facts = ImageFacts(ref="demo-app", id="sha256:final", size_bytes=size, exposed_ports=(),
                       env={}, cmd=None, entrypoint=None, workdir="", user="")
    return Facts(spec, exercise_spec, tmp_path, dockerfile, {
        IMAGE: facts, LAYERS: image.layers, BLAME: blame,
        REFERENCE: reference or ReferenceFacts(None, "no reference"),
    })


def judged(facts: Facts, rule: str):
    (check,) = [check for check in facts.exercise.checks if check.rule_id == rule]
    return check.judge(facts)


SERVER = [("/web/server", "file", 8 * MB)]
PAGE = [("/web/index.html", "file", 400)]

# -- the mapping ---------------------------------------------------------------------------

TWO_STAGES = """\
FROM diamol/golang AS builder
WORKDIR /src
COPY go.mod *.go ./
RUN go build -o /out/server .

FROM diamol/base
ENV USER=sixeyed
WORKDIR /web
COPY --from=builder /out/server .
COPY --from=builder /src/index.html .
CMD ["/web/server"]
"""


def test_each_layer_is_blamed_on_its_line_and_the_base_on_the_final_from():
    image, blame = blamed(TWO_STAGES, {8: [("/web", "dir", 0)], 9: SERVER, 10: PAGE})
    assert blame.base_layers == 2
    sources = [blame.source(blame.row_of(layer), layer) for layer in image.layers]
    assert sources == [
        "diamol/base, your final `FROM` at line 6",
        "diamol/base, your final `FROM` at line 6",
        "`WORKDIR /web` at line 8",
        "`COPY --from=builder /out/server .` at line 9",
        "`COPY --from=builder /src/index.html .` at line 10",
    ]
    assert [row.origin for row in blame.rows[-2:]] == [Origin.GRADER, Origin.GRADER]


def test_a_step_that_adds_no_layer_does_not_shift_the_others():
    # WORKDIR /web where /web already exists, and a RUN that changes nothing: rows, no layers.
    text = TWO_STAGES.replace("WORKDIR /web\n", "WORKDIR /web\nRUN true\n")
    image, blame = blamed(text, {10: SERVER, 11: PAGE})
    layer = image.layers[-2]
    assert blame.source(blame.row_of(layer), layer) == "`COPY --from=builder /out/server .` at line 10"


def test_scratch_has_no_base_rows():
    text = "FROM diamol/golang AS builder\nRUN go build -o /server\nFROM scratch\n" \
           "COPY --from=builder /server /server\nCMD [\"/server\"]\n"
    image, blame = blamed(text, {4: SERVER})
    assert blame.base_layers == 0 and blame.base == "scratch"
    assert blame.source(blame.row_of(image.layers[0])) == \
        "`COPY --from=builder /server /server` at line 4"
    assert [weight.label for weight in blame.weights()] == ["`COPY --from=builder /server /server`"]


def test_an_arg_substituted_from_names_the_image_and_what_was_written():
    text = "ARG RUNTIME=diamol/base\nFROM ${RUNTIME}\nCOPY server /web/server\n"
    image, blame = blamed(text, {3: SERVER})
    assert blame.source(blame.row_of(image.layers[0])) == \
        "diamol/base (`${RUNTIME}`), your final `FROM` at line 2"
    assert blame.source(blame.row_of(image.layers[-1])) == "`COPY server /web/server` at line 3"


def test_lower_case_instructions_and_a_numbered_from_are_matched():
    text = "from diamol/golang\nrun go build -o /server\n\nfrom diamol/base\n" \
           "copy --from=0 /server /server\ncmd [\"/server\"]\n"
    image, blame = blamed(text, {5: SERVER})
    assert blame.source(blame.row_of(image.layers[-1])) == "`copy --from=0 /server /server` at line 5"


def test_a_stage_built_from_a_stage_contributes_its_own_instructions():
    text = """\
FROM diamol/golang AS sdk
WORKDIR /src
COPY . .

FROM sdk AS compiled
RUN go build -o /src/server .

FROM compiled
CMD ["/src/server"]
"""
    image, blame = blamed(text, {2: [("/src", "dir", 0)], 3: PAGE, 6: SERVER})
    sources = [blame.source(blame.row_of(layer)) for layer in image.layers[-3:]]
    assert sources == [
        "`WORKDIR /src` at line 2 (stage `sdk`, which your final stage builds on)",
        "`COPY . .` at line 3 (stage `sdk`, which your final stage builds on)",
        "`RUN go build -o /src/server .` at line 6 (stage `compiled`, which your final stage "
        "builds on)",
    ]
    assert blame.source(blame.row_of(image.layers[0])) == (
        "diamol/golang, the base of stage `sdk` (line 1) that your final `FROM` at line 8 "
        "builds on")


def test_an_unknown_base_image_is_counted_from_the_end():
    # The base image is no longer in the engine: the learner's rows are the last ones.
    image, blame = blamed(TWO_STAGES, {8: [("/web", "dir", 0)], 9: SERVER, 10: PAGE},
                          known_bases={})
    assert blame.base_layers is None
    assert blame.source(blame.row_of(image.layers[0])) == "diamol/base, your final `FROM` at line 6"
    assert blame.source(blame.row_of(image.layers[3])) == \
        "`COPY --from=builder /out/server .` at line 9"


def test_a_base_image_retagged_since_the_build_is_not_trusted():
    retagged = base_image("other", ("/bin/sh -c #(nop) COPY dir:0 in / ", [("/x", "file", 1)]))
    _, image = classic_build(TWO_STAGES, {9: SERVER})
    blame = blame_rows(Dockerfile.from_text(TWO_STAGES).final, image.history, retagged.history,
                       LABELS)
    assert blame.base_layers is None  # not the image it was built on: counted from the end
    assert blame.source(blame.row_of(image.layers[2])) == \
        "`COPY --from=builder /out/server .` at line 9"


def test_rows_that_do_not_fit_their_instructions_fall_back_to_layer_numbers():
    # An image made some other way: the words do not fit, so nothing is blamed on a line.
    _, image = classic_build(TWO_STAGES, {9: SERVER})
    rows = tuple(HistoryRow("/bin/sh -c #(nop)  ENV X=1", row.size) if row.size == 8 * MB
                 else row for row in image.history.rows)
    blame = blame_rows(Dockerfile.from_text(TWO_STAGES).final, replace(image.history, rows=rows),
                       None, LABELS)
    assert not blame.matched
    assert blame.source(blame.row_of(image.layers[2]), image.layers[2]).startswith("layer 3 (`")


@pytest.mark.parametrize(("words", "keyword"), [
    ("/bin/sh -c #(nop) COPY dir:b6794471 in / ", "COPY"),
    ("/bin/sh -c #(nop)  ENV USER=sixeyed", "ENV"),
    ("/bin/sh -c go build -o /server .", "RUN"),
    ("|2 GOOS=linux GOARCH=amd64 /bin/sh -c go build .", "RUN"),
    ("COPY /out/server . # buildkit", "COPY"),
    ("RUN /bin/sh -c go build . # buildkit", "RUN"),
    ("go build -o /server .", None),  # the classic builder's exec-form RUN
])
def test_a_rows_words_name_its_instruction(words, keyword):
    assert row_keyword(words) == keyword


def test_an_exec_form_run_fits_its_bare_command():
    (run,) = Dockerfile.from_text('FROM scratch\nRUN ["go", "build"]\n').final.instructions
    assert fits(run, "go build") and not fits(run, "/bin/sh -c #(nop) COPY file:1 in / ")


# -- ML4-TOOLS -----------------------------------------------------------------------------

SINGLE_STAGE = """\
FROM diamol/golang
WORKDIR /web
COPY . .
RUN go build -o /web/server
CMD ["/web/server"]
"""


def test_a_tool_of_the_base_image_names_the_base_and_the_final_from(tmp_path):
    image, blame = blamed(SINGLE_STAGE, {3: PAGE, 4: SERVER})
    outcome = judged(facts_for(tmp_path, SINGLE_STAGE, image, blame), "ML4-TOOLS")
    assert not outcome.passed
    assert outcome.what == ("diamol/golang, your final `FROM` at line 1, contains `go` "
                            "(/usr/bin/go and 1 more): it ships with the final image.")
    assert str(outcome.location) == "app/Dockerfile:1"
    assert "`FROM diamol/golang AS builder`" in outcome.fix
    assert "go: /usr/lib/go-1.19/bin/go — diamol/golang, your final `FROM` at line 1" in \
        outcome.details


WHOLE_BUILDER = TWO_STAGES.replace("COPY --from=builder /out/server .\n",
                                   "COPY --from=builder / /\n")


def test_a_copied_tool_names_the_copy_its_line_and_its_layers_size(tmp_path):
    copied = [("/usr/bin/go", "symlink", 0), ("/usr/lib/go-1.19/bin/go", "file", 540 * MB)]
    image, blame = blamed(WHOLE_BUILDER, {8: [("/web", "dir", 0)], 9: copied, 10: PAGE})
    outcome = judged(facts_for(tmp_path, WHOLE_BUILDER, image, blame), "ML4-TOOLS")
    assert outcome.what == ("`COPY --from=builder / /` at line 9 brought `go` (/usr/bin/go and "
                            "1 more) into the final image, in a layer of 540.0 MB.")
    assert str(outcome.location) == "app/Dockerfile:9"
    assert "change line 9" in outcome.fix


def test_a_tool_copied_into_scratch_with_a_numbered_from_names_that_copy(tmp_path):
    text = "from diamol/golang\nrun go build -o /server\nfrom scratch\n" \
           "copy --from=0 /server /server\ncopy --from=0 /usr/bin/go /bin/go\n"
    image, blame = blamed(text, {4: SERVER, 5: [("/bin/go", "file", 10 * MB)]})
    outcome = judged(facts_for(tmp_path, text, image, blame), "ML4-TOOLS")
    assert outcome.what.startswith("`copy --from=0 /usr/bin/go /bin/go` at line 5 brought `go` "
                                   "(/bin/go) into the final image")
    assert str(outcome.location) == "app/Dockerfile:5"


def test_a_tool_the_learners_run_installs_in_the_final_stage(tmp_path):
    text = "FROM diamol/base\nRUN apk add go\nCMD [\"/server\"]\n"
    image, blame = blamed(text, {2: [("/usr/bin/go", "file", 90 * MB)]})
    outcome = judged(facts_for(tmp_path, text, image, blame), "ML4-TOOLS")
    assert outcome.what.startswith("`RUN apk add go` at line 2 brought `go`")
    assert "move line 2" in outcome.fix


def test_a_tool_inherited_through_a_stage_says_which_stage(tmp_path):
    text = "FROM diamol/golang AS builder\nRUN go build -o /server\nFROM builder\nCMD [\"/server\"]\n"
    image, blame = blamed(text, {2: SERVER})
    outcome = judged(facts_for(tmp_path, text, image, blame), "ML4-TOOLS")
    assert outcome.what.startswith("diamol/golang, the base of stage `builder` (line 1) that "
                                   "your final `FROM` at line 3 builds on, contains `go`")
    assert "built FROM stage `builder`" in outcome.fix
    assert str(outcome.location) == "app/Dockerfile:3"


def test_a_tool_deleted_later_names_both_lines(tmp_path):
    text = "FROM diamol/golang\nRUN rm -rf /usr/lib/go-1.19 /usr/bin/go\nCMD [\"/server\"]\n"
    removed = [("/usr/lib/go-1.19", "whiteout", 0), ("/usr/bin/go", "whiteout", 0)]
    image, blame = blamed(text, {2: removed})
    outcome = judged(facts_for(tmp_path, text, image, blame), "ML4-TOOLS")
    assert outcome.what == (
        "The final stage deletes `go` (/usr/lib/go-1.19/bin/go) in `RUN rm -rf /usr/lib/go-1.19 "
        "/usr/bin/go` "
        "at line 2, but the layer that added it (diamol/golang, your final `FROM` at line 1) "
        "still ships inside the image.")
    assert str(outcome.location) == "app/Dockerfile:1"


# -- ML4-SIZE ------------------------------------------------------------------------------


def test_size_lists_the_heaviest_layers_with_the_base_as_one(tmp_path):
    copied = [("/usr/lib/go-1.19/bin/go", "file", 540 * MB)]
    image, blame = blamed(WHOLE_BUILDER, {8: [("/web", "dir", 0)], 9: copied, 10: PAGE})
    reference = ReferenceFacts(8_200_000)
    outcome = judged(facts_for(tmp_path, WHOLE_BUILDER, image, blame, reference), "ML4-SIZE")
    assert not outcome.passed
    assert outcome.what == (
        "The image is 542.0 MB; the budget is 30 MB (18.1× over), and the reference solution's "
        "is 8.2 MB. Its final stage starts from diamol/base. Heaviest: `COPY --from=builder / /` "
        "at line 9, 540.0 MB.")
    assert str(outcome.location) == "app/Dockerfile:9"
    assert "Line 9 copies more than the app runs" in outcome.fix
    assert outcome.details.splitlines() == [
        "  540.0 MB  line 9    `COPY --from=builder / /`",
        "    2.0 MB  line 6    diamol/base, the base image (2 layers)",
        "    0.4 kB  line 10   `COPY --from=builder /src/index.html .`",
        "  542.0 MB            in all; budget 30 MB; reference solution 8.2 MB",
    ]


def test_size_blames_a_heavy_base_image_on_the_final_from(tmp_path):
    image, blame = blamed(SINGLE_STAGE, {3: PAGE, 4: SERVER})
    outcome = judged(facts_for(tmp_path, SINGLE_STAGE, image, blame), "ML4-SIZE")
    assert "Heaviest: diamol/golang, your final `FROM` at line 1, 540.0 MB." in outcome.what
    assert "reference" not in outcome.what  # it could not be built: left out
    assert str(outcome.location) == "app/Dockerfile:1"
    assert outcome.details.splitlines()[0] == \
        "  540.0 MB  line 1    diamol/golang, the base image (3 layers)"


def test_size_within_budget_names_the_reference(tmp_path):
    image, blame = blamed(TWO_STAGES, {9: SERVER, 10: PAGE})
    outcome = judged(facts_for(tmp_path, TWO_STAGES, image, blame, ReferenceFacts(9_000_000)),
                     "ML4-SIZE")
    assert outcome.passed
    assert outcome.what == ("The image is 10.0 MB (budget 30 MB, the reference solution's is "
                            "9.0 MB).")
    same = judged(facts_for(tmp_path, TWO_STAGES, image, blame,
                            ReferenceFacts(10_000_000, same_image=True)), "ML4-SIZE")
    assert same.what == "The image is 10.0 MB (budget 30 MB, this is the reference solution)."


# -- the reference solution, through the runner ----------------------------------------------

SIZE = {"kind": "size", "max_mb": 30, "points": 5}
SOLUTION = TWO_STAGES.replace("/out/server", "/bin/server")


@pytest.fixture
def lab_with_solution(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKERLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    write_files(tmp_path, {"lab/app/main.go": "package main\n", "lab/solution/app/Dockerfile": SOLUTION,
                           "lab/solution/app/main.go": "package main\n",
                           "learner/app/Dockerfile": TWO_STAGES,
                           "learner/app/main.go": "package main\n"})
    return write_lab(tmp_path / "lab", exercise("app", checks=[SIZE]))


def size_result(result):
    (size,) = [check for check in result.exercises[0].checks if check.rule_id == "ML4-SIZE"]
    return size


def test_the_reference_is_built_from_its_own_folder_tagged_and_kept(tmp_path, lab_with_solution):
    engine = FakeEngine({"app": Recorded(image={"size_bytes": 12_000_000}),
                         "app:reference": Recorded(image={"size_bytes": 9_000_000})})
    result = grade(lab_with_solution, tmp_path / "learner", engine)
    assert size_result(result).what == ("The image is 12.0 MB (budget 30 MB, the reference "
                                        "solution's is 9.0 MB).")
    sandbox = engine.sandboxes[0]
    (call,) = sandbox.made("build", "app:reference")
    request = call.args["request"]
    assert request.tag == "dockerlab-reference/lab4-app" and not call.args["throwaway"]
    assert request.dockerfile_text == SOLUTION
    assert request.context_dir == tmp_path / "lab" / "solution" / "app"
    assert request.labels == {"dockerlab.lab": "lab4", "dockerlab.exercise": "app"}


def test_grading_the_solution_builds_no_second_image(tmp_path, lab_with_solution):
    engine = FakeEngine({"app": Recorded(image={"size_bytes": 12_000_000})})
    result = grade(lab_with_solution, tmp_path / "lab" / "solution", engine)
    assert size_result(result).what == ("The image is 12.0 MB (budget 30 MB, this is the "
                                        "reference solution).")
    assert engine.sandboxes[0].made("build", "app:reference") == []


def test_a_reference_that_does_not_build_is_left_out(tmp_path, lab_with_solution):
    engine = FakeEngine({"app": Recorded(image={"size_bytes": 12_000_000}),
                         "app:reference": Recorded(build=Build(fails_at="go build",
                                                               error="exit 1"))})
    result = grade(lab_with_solution, tmp_path / "learner", engine)
    assert size_result(result).status is Status.PASSED
    assert size_result(result).what == "The image is 12.0 MB (budget 30 MB)."


def test_a_changed_reference_is_not_hidden_by_a_remembered_outcome(tmp_path, lab_with_solution):
    engine = FakeEngine({"app": Recorded(image={"size_bytes": 12_000_000}),
                         "app:reference": Recorded(image={"size_bytes": 9_000_000})})
    grade(lab_with_solution, tmp_path / "learner", engine)
    again = grade(lab_with_solution, tmp_path / "learner", engine)  # remembered: no build
    assert len(engine.sandboxes[1].made("build", "app:reference")) == 0
    assert "9.0 MB" in size_result(again).what
    (tmp_path / "lab" / "solution" / "app" / "Dockerfile").write_text(SOLUTION + "# changed\n")
    engine.recorded["app:reference"] = Recorded(image={"size_bytes": 7_000_000})
    changed = grade(lab_with_solution, tmp_path / "learner", engine)
    assert "7.0 MB" in size_result(changed).what
