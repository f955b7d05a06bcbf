"""The Dockerfile model reads learners' files the way Docker does."""

from pathlib import Path

import pytest

from grader.dockerfile import (
    line_of_step,
    Dockerfile,
    DockerfileSyntaxError,
    declare_platform_args,
    heredoc_line,
    matches_step,
    platform_args,
)


def parse(text: str, **build_args: str) -> Dockerfile:
    return Dockerfile.from_text(text, build_args=build_args)


def test_numbered_stages_are_found_by_index():
    dockerfile = parse(
        "FROM diamol/golang\n"
        "RUN go build -o /server\n"
        "FROM diamol/base\n"
        "COPY --from=0 /server /app/server\n"
    )
    builder, final = dockerfile.stages
    assert (builder.name, builder.label, final.label) == (None, "0", "1")
    assert dockerfile.stage_for_reference("0") is builder
    assert final.copies_from()[0][1] == "0"
    assert dockerfile.stages_feeding(final) == {builder, final}


def test_global_arg_is_substituted_in_from():
    dockerfile = parse("ARG IMAGE=diamol/golang\nFROM ${IMAGE} AS builder\nARG LATER=1\n")
    assert dockerfile.stages[0].base == "${IMAGE}"
    assert dockerfile.stages[0].resolved_base == "diamol/golang"
    assert dockerfile.global_args == {"IMAGE": "diamol/golang"}


def test_build_args_override_defaults_and_defaults_nest():
    text = "ARG REGISTRY\nARG IMAGE=${REGISTRY:-diamol}/node\nFROM ${IMAGE}:18\n"
    assert parse(text).final.resolved_base == "diamol/node:18"
    assert parse(text, REGISTRY="local").final.resolved_base == "local/node:18"
    assert parse(text, IMAGE="node").final.resolved_base == "node:18"


def test_from_scratch_is_the_root_image():
    dockerfile = parse("FROM diamol/golang AS build\nFROM scratch\nCOPY --from=build /a /a\n")
    assert dockerfile.final.root_image() == "scratch"
    assert dockerfile.final.parent is None


def test_lower_case_instructions_and_stage_names():
    dockerfile = parse(
        "from diamol/node as Builder\nrun npm ci\nfrom diamol/base\ncopy --from=BUILDER /a /a\n"
    )
    builder = dockerfile.stages[0]
    assert builder.name == "builder"
    assert [ins.keyword for ins in dockerfile.instructions] == ["FROM", "RUN", "FROM", "COPY"]
    assert dockerfile.stage_for_reference("Builder") is builder
    assert dockerfile.stages_feeding(dockerfile.final) == {builder, dockerfile.final}


def test_extra_stage_after_the_real_one_is_what_docker_builds():
    dockerfile = parse(
        "FROM diamol/golang AS builder\n"
        "FROM diamol/base AS app\n"
        "COPY --from=builder /server /server\n"
        "FROM diamol/golang AS test\n"
        "RUN go test ./...\n"
    )
    final = dockerfile.final
    assert final.name == "test"
    assert dockerfile.stages_feeding(final) == {final}
    assert dockerfile.final_stage("app").name == "app"
    assert {stage.label for stage in dockerfile.stages_feeding(dockerfile.final_stage("app"))} == {
        "builder",
        "app",
    }


def test_stage_built_from_an_earlier_stage():
    dockerfile = parse(
        'FROM diamol/maven AS builder\nRUN mvn package\nFROM builder AS final\nCMD ["java"]\n'
    )
    builder, final = dockerfile.stages
    assert final.parent is builder
    assert final.root_image() == "diamol/maven"
    assert final.lineage() == [builder, final]
    assert dockerfile.stages_feeding(final) == {builder, final}


def test_copy_from_an_image_is_not_a_stage():
    dockerfile = parse("FROM diamol/base\nCOPY --from=some/image /bin/tool /bin/tool\n")
    assert dockerfile.final.copies_from()[0][1] == "some/image"
    assert dockerfile.stage_for_reference("some/image") is None
    assert dockerfile.stages_feeding(dockerfile.final) == {dockerfile.final}


def test_a_stage_cannot_copy_from_a_later_one():
    dockerfile = parse(
        "FROM diamol/base AS first\nCOPY --from=second /a /a\nFROM diamol/base AS second\n"
    )
    first = dockerfile.stages[0]
    assert dockerfile.stages_feeding(first) == {first}


def test_flags_are_split_from_arguments():
    dockerfile = parse(
        "FROM --platform=linux/amd64 diamol/golang AS builder\n"
        'COPY --chown="1000:1000" --from=builder /a /b\n'
        "COPY --link --chmod=755 x /x\n"
    )
    from_, copy, linked = dockerfile.instructions
    assert from_.flags == {"platform": "linux/amd64"}
    assert from_.arguments == ["diamol/golang", "AS", "builder"]
    assert copy.flags == {"chown": "1000:1000", "from": "builder"}
    assert copy.arguments == ["/a", "/b"]
    assert linked.flags == {"link": "true", "chmod": "755"}


def test_json_and_shell_forms():
    dockerfile = parse(
        "FROM diamol/base\n"
        'CMD ["/web/server", "--port", "80"]\n'
        "ENTRYPOINT /web/server --port 80\n"
        "RUN [not json\n"
        "EXPOSE [80]\n"
    )
    cmd, entrypoint, run, expose = dockerfile.final.instructions
    assert (cmd.json_form, cmd.arguments) == (True, ["/web/server", "--port", "80"])
    assert (entrypoint.json_form, entrypoint.arguments) == (False, ["/web/server", "--port", "80"])
    assert (run.json_form, run.arguments) == (False, ["[not", "json"])
    assert expose.json_form is False  # EXPOSE has no JSON form


def test_continuations_with_comments_and_blank_lines():
    dockerfile = parse(
        "FROM diamol/base\n"
        "RUN apk add --no-cache \\\n"
        "    # the HTTP client\n"
        "    curl \\\n"
        "\n"
        "    && echo done\n"
        'CMD ["sh"]\n'
    )
    run, cmd = dockerfile.final.instructions
    assert (run.line, run.end_line) == (2, 6)
    assert run.arguments == ["apk", "add", "--no-cache", "curl", "&&", "echo", "done"]
    assert cmd.line == 7


def test_escape_directive_and_continuation_at_end_of_file():
    dockerfile = parse("# escape=`\nFROM diamol/base\nRUN echo C:\\dir `\n    && echo two `")
    run = dockerfile.final.instructions[0]
    assert str(run) == "RUN echo C:\\dir && echo two"  # a backslash ends no line here
    assert (run.line, run.end_line) == (3, 4)


def test_byte_order_mark_and_parse_from_a_file(tmp_path: Path):
    path = tmp_path / "Dockerfile"
    path.write_text('\ufeffFROM diamol/base\nCMD ["sh"]\n', encoding="utf-8")
    dockerfile = Dockerfile.parse(path)
    assert dockerfile.path == path
    assert dockerfile.final.resolved_base == "diamol/base"


def test_a_stray_byte_that_is_not_utf8_does_not_stop_parsing(tmp_path: Path):
    path = tmp_path / "Dockerfile"
    path.write_bytes(b'FROM diamol/base\n# caf\xe9 au lait\nCMD ["sh"]\n')
    assert Dockerfile.parse(path).final.last("CMD").line == 3


def test_find_and_last():
    stage = parse('FROM diamol/base\nEXPOSE 80\nCMD ["a"]\nEXPOSE 81\n').final
    assert [ins.arguments for ins in stage.find("expose")] == [["80"], ["81"]]
    assert stage.last("EXPOSE").line == 4
    assert stage.last("USER") is None


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("", None, "no FROM"),
        ("# only a comment\n", None, "no FROM"),
        ("ARG A\nRUN echo hi\nFROM diamol/base\n", 2, "before the first FROM"),
        ("FROM diamol/base\nRUNN echo hi\n", 2, "unknown instruction: RUNN"),
        (
            "FROM diamol/base\nRUN apt-get update\n    && apt-get install curl\n",
            3,
            "unknown instruction: &&",
        ),
        ("FROM diamol/base builder\n", 1, "AS name"),
        ("FROM diamol/base AS 1st\n", 1, "not a valid stage name"),
        ("FROM diamol/base AS app\nFROM diamol/base AS APP\n", 2, "used twice"),
        ("ARG IMAGE\nFROM ${IMAGE}\n", 2, "names no image"),
    ],
)
def test_what_docker_rejects(text: str, line: int | None, fragment: str):
    with pytest.raises(DockerfileSyntaxError) as raised:
        parse(text)
    assert raised.value.line == line
    assert fragment in raised.value.message


def test_unknown_target_is_rejected():
    dockerfile = parse("FROM diamol/base AS app\n")
    with pytest.raises(DockerfileSyntaxError, match="no build stage named 'web'"):
        dockerfile.final_stage("web")


def test_matches_step_as_the_classic_builder_prints_it():
    dockerfile = parse(
        "ARG IMAGE=diamol/node\n"
        "from ${IMAGE} as builder\n"
        "RUN npm install && \\\n"
        "    npm cache clean --force\n"
    )
    from_, run = dockerfile.final.from_instruction, dockerfile.final.instructions[0]
    assert matches_step(from_, "from ${IMAGE} as builder")
    assert matches_step(from_, "FROM ${IMAGE} as builder")
    assert matches_step(run, "RUN npm install &&     npm cache clean --force")
    assert not matches_step(run, "RUN npm install")
    assert not matches_step(from_, "RUN ${IMAGE} as builder")


def test_step_numbers_count_the_args_before_the_first_from():
    # The classic builder prints `Step 1/5 : ARG ...`; the two identical RUNs tell apart
    # only by their numbers.
    dockerfile = parse("ARG BASE=diamol/base\nFROM $BASE\nRUN echo hi\nCOPY a /a\nRUN echo hi\n")
    assert line_of_step(dockerfile, 3, "RUN echo hi") == 3
    assert line_of_step(dockerfile, 5, "RUN echo hi") == 5
    assert line_of_step(dockerfile, 2, "FROM $BASE") == 2


PLATFORM = platform_args("linux", "arm64")


def test_platform_args_are_buildkits_names_and_values():
    assert PLATFORM["BUILDPLATFORM"] == PLATFORM["TARGETPLATFORM"] == "linux/arm64"
    assert (PLATFORM["TARGETOS"], PLATFORM["TARGETARCH"], PLATFORM["TARGETVARIANT"]) == (
        "linux", "arm64", "",
    )
    assert platform_args("linux", "arm", "v7")["BUILDPLATFORM"] == "linux/arm/v7"


def test_dockerfile_without_platform_args_is_left_alone():
    assert declare_platform_args("FROM diamol/base\nRUN echo $HOME\n", PLATFORM) is None


def test_platform_args_are_declared_after_the_parser_directives():
    text = (
        "\ufeff# syntax=docker/dockerfile:1\n# escape=`\n# a comment ends the directives\n"
        "FROM --platform=$BUILDPLATFORM diamol/golang AS builder\n"
    )
    declared = declare_platform_args(text, PLATFORM)
    lines = declared.splitlines()
    assert lines[:2] == ["# syntax=docker/dockerfile:1", "# escape=`"]
    assert lines[2].startswith("ARG BUILDPLATFORM=linux/arm64 BUILDOS=linux ")
    assert lines[3:] == text.lstrip("\ufeff").splitlines()[2:]
    stage = Dockerfile.from_text(declared).stages[0]
    assert (stage.name, stage.base) == ("builder", "diamol/golang")


def test_platform_args_go_first_when_there_are_no_directives():
    declared = declare_platform_args("FROM diamol/base\r\nARG TARGETARCH\r\n", PLATFORM)
    assert declared.startswith("ARG BUILDPLATFORM=")
    assert declared.splitlines()[1:] == ["FROM diamol/base", "ARG TARGETARCH"]


def test_heredocs_are_found_on_the_line_that_opens_them():
    assert heredoc_line("FROM a\nRUN <<EOF\necho hi\nEOF\n") == 2
    assert heredoc_line("FROM a\ncopy <<-'END' /x\nhi\nEND\n") == 2
    assert heredoc_line("FROM a\nRUN echo $((1 << 2))\n") is None
