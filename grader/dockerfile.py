"""A learner's Dockerfile, read the way Docker reads it.

`dockerfile-parse` tokenises (continuations, the `# escape=` directive, comments inside
continuations); this module adds what grading needs on top: flags, JSON or shell arguments,
build stages with their names, ARG-substituted bases, parent stages and `COPY --from` links —
so checks can tell which stages really end up in the final image.

Heredocs (`RUN <<EOF`) are not understood: the classic builder this lab uses rejects them too
(`heredoc_line` finds them, to say so).
"""

from __future__ import annotations

import io
import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dockerfile_parse import DockerfileParser

KNOWN_INSTRUCTIONS = frozenset(
    {
        "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
        "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
        "WORKDIR",
    }
)  # fmt: skip
# Docker tries the JSON (exec) form only for these; for the others `[` is plain text.
JSON_FORM_INSTRUCTIONS = frozenset({"ADD", "CMD", "COPY", "ENTRYPOINT", "RUN", "SHELL", "VOLUME"})
STAGE_NAME = re.compile(r"^[a-z][a-z0-9_.-]*$")  # Docker's rule, after lower-casing
BLANK_LINE = re.compile(r"^\s*$")
# A leading `--name[=value]` word; quoted parts may hold spaces, as Docker allows.
FLAG_WORD = re.compile(r"""\s*(--(?:[^\s"']|"[^"]*"|'[^']*')*)""")
VARIABLE = re.compile(
    r"\\\$"
    r"|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<operator>[-+])(?P<word>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


# BuildKit defines these in every build: FROM lines see them, a stage sees one once it says
# `ARG NAME`. The classic builder, which the docker SDK drives, defines none of them.
PLATFORM_ARG_USE = re.compile(r"\b(?:BUILD|TARGET)(?:PLATFORM|OS|ARCH|VARIANT)\b")
PARSER_DIRECTIVE = re.compile(r"^#\s*[A-Za-z][A-Za-z0-9_-]*\s*=")
# EXPOSE: a port is ASCII digits (Go's ParseUint), up to 65535; three protocols.
PORT_NUMBER = re.compile(r"[0-9]+")
MAX_PORT = 65535
PORT_PROTOCOLS = ("tcp", "udp", "sctp")
HEREDOC = re.compile(r"""^\s*(?:RUN|COPY|ADD)\s.*<<-?\s*(["']?)[A-Za-z_][A-Za-z0-9_]*\1""",
                     re.IGNORECASE)


class DockerfileSyntaxError(ValueError):
    """Something Docker itself would reject; the runner reports it to the learner."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass(frozen=True, eq=False)  # identity: two equal lines are still two steps
class Instruction:
    keyword: str  # upper-case
    value: str  # everything after the keyword, continuations joined, flags included
    line: int  # 1-based, where the instruction starts
    end_line: int
    flags: dict[str, str]  # `--from=builder` -> {"from": "builder"}; a bare `--link` -> "true"
    arguments: list[str]  # JSON form parsed, or shell form split; flags removed
    original: str  # keyword as written + value: what the classic builder prints as a step
    json_form: bool = False

    def __str__(self) -> str:
        return " ".join(self.original.split())


@dataclass(eq=False)
class Stage:
    """One `FROM` and the instructions after it; hashable by identity."""

    index: int
    name: str | None  # lower-cased, as Docker stores it
    base: str  # as written in FROM, e.g. "${IMAGE}"
    resolved_base: str  # after ARG substitution
    parent: Stage | None  # the earlier stage FROM names, if it names one
    from_instruction: Instruction
    instructions: list[Instruction] = field(default_factory=list)

    @property
    def from_line(self) -> int:
        return self.from_instruction.line

    @property
    def label(self) -> str:
        """How a learner refers to the stage: its name, or its number for unnamed stages."""
        return self.name or str(self.index)

    def lineage(self) -> list[Stage]:
        """This stage and the stages it is built FROM, oldest first: the layers it inherits."""
        chain = [self]
        while chain[0].parent is not None:
            chain.insert(0, chain[0].parent)
        return chain

    def root_image(self) -> str:
        """The external image under this stage, following FROM-a-stage links (may be scratch)."""
        return self.lineage()[0].resolved_base

    def copies_from(self) -> list[tuple[Instruction, str]]:
        return [(ins, ins.flags["from"]) for ins in self.find("COPY") if "from" in ins.flags]

    def find(self, keyword: str) -> list[Instruction]:
        keyword = keyword.upper()
        return [ins for ins in self.instructions if ins.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.find(keyword)
        return found[-1] if found else None

    def __repr__(self) -> str:
        return f"<Stage {self.label} FROM {self.resolved_base} at line {self.from_line}>"


@dataclass
class Dockerfile:
    path: Path
    stages: list[Stage]
    global_args: dict[str, str]  # ARGs before the first FROM, with the values FROM lines see
    instructions: list[Instruction]  # every instruction, in file order
    build_args: dict[str, str] = field(default_factory=dict)  # the build's --build-arg values

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def final_stage(self, target: str | None = None) -> Stage:
        """The stage `docker build` produces: the last one, or `--target`."""
        if target is None:
            return self.final
        stage = self.stage_for_reference(target)
        if stage is None:
            known = ", ".join(stage.label for stage in self.stages)
            raise DockerfileSyntaxError(
                f"there is no build stage named '{target}' (stages: {known})"
            )
        return stage

    def stage_for_reference(self, ref: str, before: int | None = None) -> Stage | None:
        """The stage `COPY --from=ref` means: a name (any case) or a number; None for an image.

        `before` limits the search to stages defined earlier, as the classic builder does.
        """
        candidates = self.stages if before is None else self.stages[:before]
        if ref.isdigit():
            number = int(ref)
            return candidates[number] if number < len(candidates) else None
        wanted = ref.lower()
        return next((stage for stage in candidates if stage.name == wanted), None)

    def stages_feeding(self, stage: Stage) -> set[Stage]:
        """`stage` and every stage its build uses, through FROM parents and COPY --from."""
        needed: set[Stage] = set()
        pending = [stage]
        while pending:
            current = pending.pop()
            if current in needed:
                continue
            needed.add(current)
            if current.parent is not None:
                pending.append(current.parent)
            for _, ref in current.copies_from():
                source = self.stage_for_reference(ref, before=current.index)
                if source is not None:
                    pending.append(source)
        return needed

    def exposed_ports(self, stage: Stage) -> list[PortRange]:
        """The ports the image of `stage` exposes, as the builder reads the EXPOSE lines of
        the stage and of the stages it is built FROM: `$NAME` replaced by ARG and ENV values
        (one value may hold several words), ranges and protocols kept. A word Docker
        rejects is left out: the build fails on it, and ML4-BUILD says so."""
        ports: list[PortRange] = []
        env: dict[str, str] = {}  # ENV carries over into a stage built FROM this one
        for each in stage.lineage():
            args: dict[str, str] = {}  # an ARG holds in its own stage only
            for instruction in each.instructions:
                scope = {**args, **env}  # ENV wins over an ARG of the same name
                if instruction.keyword == "ARG":
                    args.update(self.stage_args(instruction, scope))
                elif instruction.keyword == "ENV":
                    env.update(env_values(instruction, scope))
                elif instruction.keyword == "EXPOSE":
                    words = [word for argument in instruction.arguments
                             for word in substitute(argument, scope).split()]
                    ports += [found for found in map(port_range, words) if found is not None]
        return ports

    def stage_args(self, instruction: Instruction, scope: Mapping[str, str]) -> dict[str, str]:
        """`ARG NAME[=default] ...` inside a stage: a --build-arg wins, then the default, then
        the value of the global ARG of that name."""
        values: dict[str, str] = {}
        for word in instruction.arguments:
            name, has_default, default = word.partition("=")
            if name in self.build_args:
                values[name] = self.build_args[name]
            elif has_default:
                values[name] = substitute(default, {**scope, **values})
            else:
                values[name] = self.global_args.get(name, "")
        return values

    @classmethod
    def parse(cls, path: Path, build_args: Mapping[str, str] | None = None) -> Dockerfile:
        # Docker reads bytes: a stray non-UTF-8 byte in a comment does not stop a build.
        text = path.read_text(encoding="utf-8", errors="replace")
        return cls.from_text(text, path=path, build_args=build_args)

    @classmethod
    def from_text(
        cls,
        text: str,
        path: Path = Path("Dockerfile"),
        build_args: Mapping[str, str] | None = None,
    ) -> Dockerfile:
        instructions = tokenise(text)
        global_args, stages = build_stages(instructions, dict(build_args or {}))
        return cls(path=path, stages=stages, global_args=global_args, instructions=instructions,
                   build_args=dict(build_args or {}))


@dataclass(frozen=True)
class PortRange:
    """What one EXPOSE word declares: `80`, `80/udp`, `8000-9000` (1,001 TCP ports)."""

    first: int
    last: int
    protocol: str = "tcp"

    def has(self, port: int, protocol: str = "tcp") -> bool:
        return self.protocol == protocol and self.first <= port <= self.last

    def __str__(self) -> str:
        ports = str(self.first) if self.first == self.last else f"{self.first}-{self.last}"
        return ports if self.protocol == "tcp" else f"{ports}/{self.protocol}"


def port_range(word: str) -> PortRange | None:
    """One EXPOSE word as Docker reads it (go-connections' ParsePortSpec):
    `[ip:[host port]:]port[-last][/protocol]`, the protocol tcp (the default), udp or sctp in
    any case; None when Docker rejects it."""
    container_part = word.split(":")[-1]
    ports, _, protocol = container_part.partition("/")
    protocol = protocol.split("/")[0].lower() or "tcp"
    bounds = ports.split("-")
    first, last = bounds[0], bounds[1] if len(bounds) > 1 else bounds[0]
    if not (PORT_NUMBER.fullmatch(first) and PORT_NUMBER.fullmatch(last)):
        return None
    if int(last) > MAX_PORT or int(first) > int(last) or protocol not in PORT_PROTOCOLS:
        return None
    return PortRange(int(first), int(last), protocol)


def env_values(instruction: Instruction, scope: Mapping[str, str]) -> dict[str, str]:
    """`ENV a=b c="d e"`, or the old `ENV name value words`: each value with `$NAME` replaced
    from `scope`, the variables as they were before this line (as Docker does)."""
    words = instruction.arguments
    if words and "=" not in words[0]:
        return {words[0]: substitute(" ".join(words[1:]), scope)}
    pairs = (word.partition("=") for word in words)
    return {name: substitute(value, scope) for name, has_value, value in pairs if has_value}


def platform_args(os_name: str, arch: str, variant: str = "") -> dict[str, str]:
    """BuildKit's automatic platform args for a build on (and for) one platform."""
    parts = {
        "PLATFORM": "/".join(part for part in (os_name, arch, variant) if part),
        "OS": os_name,
        "ARCH": arch,
        "VARIANT": variant,
    }
    return {f"{side}{name}": value for side in ("BUILD", "TARGET") for name, value in parts.items()}


def declare_platform_args(text: str, values: Mapping[str, str]) -> str | None:
    """The Dockerfile for the classic builder with BuildKit's platform args declared in one
    global ARG line after the parser directives, so that `FROM --platform=$BUILDPLATFORM`
    resolves as it does on Docker Desktop; None when the Dockerfile uses none of them."""
    if not PLATFORM_ARG_USE.search(text):
        return None
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    directives = 0
    while directives < len(lines) and PARSER_DIRECTIVE.match(lines[directives]):
        directives += 1
    declaration = "ARG " + " ".join(f"{name}={value}" for name, value in values.items()) + "\n"
    return "".join(lines[:directives]) + declaration + "".join(lines[directives:])


def heredoc_line(text: str) -> int | None:
    """The first line where a RUN, COPY or ADD opens a BuildKit heredoc (`RUN <<EOF`)."""
    for number, line in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        if HEREDOC.match(line):
            return number
    return None


def tokenise(text: str) -> list[Instruction]:
    # Docker skips blank lines inside a continuation and keeps a continuation that runs
    # into the end of the file; dockerfile-parse ends the instruction at a blank line and
    # drops the unfinished one. A `#` line behaves like a blank line in every position
    # (it also ends the directives), and a final newline closes the last instruction.
    lines = text.lstrip("\ufeff").splitlines()
    prepared = "".join(("#" if BLANK_LINE.match(line) else line) + "\n" for line in lines) + "\n"
    parser = DockerfileParser(fileobj=io.BytesIO(prepared.encode("utf-8")), env_replace=False)
    last_line = max(len(lines), 1)
    return [
        instruction_from(token, last_line)
        for token in parser.structure
        if token["instruction"] != "COMMENT"
    ]


def instruction_from(token: dict, last_line: int) -> Instruction:
    line = token["startline"] + 1
    written = token["content"].split(maxsplit=1)[0]
    keyword = token["instruction"]
    if keyword not in KNOWN_INSTRUCTIONS:
        raise DockerfileSyntaxError(f"unknown instruction: {written}", line)
    value = token["value"].strip()
    flags, rest = split_flags(value)
    arguments, json_form = None, False
    if keyword in JSON_FORM_INSTRUCTIONS and rest.startswith("["):
        arguments = json_list(rest)
        json_form = arguments is not None
    return Instruction(
        keyword=keyword,
        value=value,
        line=line,
        end_line=min(token["endline"] + 1, last_line),  # not the closing newline added above
        flags=flags,
        arguments=arguments if arguments is not None else shell_words(rest),
        original=f"{written} {value}".strip(),
        json_form=json_form,
    )


def split_flags(value: str) -> tuple[dict[str, str], str]:
    """Docker's leading `--name=value` words; `--` alone ends them, as in Docker."""
    flags: dict[str, str] = {}
    rest = value
    while (match := FLAG_WORD.match(rest)) and (rest[match.end() :][:1] in ("", " ", "\t")):
        word = match.group(1)
        rest = rest[match.end() :].lstrip()
        if word == "--":
            break
        name, has_value, flag_value = shell_words(word)[0][2:].partition("=")
        flags[name] = flag_value if has_value else "true"
    return flags, rest.strip()


def json_list(text: str) -> list[str] | None:
    """The exec form, or None when Docker would fall back to the shell form."""
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
        return parsed
    return None


def shell_words(text: str) -> list[str]:
    try:
        return shlex.split(text, comments=False, posix=True)
    except ValueError:  # an unbalanced quote: Docker leaves it to the shell to complain
        return text.split()


def build_stages(
    instructions: list[Instruction], build_args: dict[str, str]
) -> tuple[dict[str, str], list[Stage]]:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            stages.append(new_stage(instruction, stages, global_args))
        elif stages:
            stages[-1].instructions.append(instruction)
        elif instruction.keyword == "ARG":
            global_args.update(declared_args(instruction, build_args, global_args))
        else:
            raise DockerfileSyntaxError(
                f"{instruction.keyword} comes before the first FROM; only ARG may come before FROM",
                instruction.line,
            )
    if not stages:
        raise DockerfileSyntaxError("the Dockerfile has no FROM instruction", None)
    return global_args, stages


def declared_args(
    instruction: Instruction, build_args: dict[str, str], known: dict[str, str]
) -> dict[str, str]:
    """`ARG NAME[=default] ...`: a --build-arg wins over the default; unset means empty."""
    values: dict[str, str] = {}
    for word in instruction.arguments:
        name, has_default, default = word.partition("=")
        if name in build_args:
            values[name] = build_args[name]
        else:
            values[name] = substitute(default, {**known, **values}) if has_default else ""
    return values


def new_stage(instruction: Instruction, earlier: list[Stage], global_args: dict[str, str]) -> Stage:
    words = instruction.arguments
    if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
        raise DockerfileSyntaxError(
            "FROM takes an image and optionally `AS name`, e.g. `FROM diamol/golang AS builder`",
            instruction.line,
        )
    base = words[0]
    resolved = substitute(base, global_args)
    if not resolved:
        raise DockerfileSyntaxError(
            f"FROM {base} names no image: the ARG it uses is empty", instruction.line
        )
    name = words[2].lower() if len(words) == 3 else None
    if name is not None:
        if not STAGE_NAME.match(name):
            raise DockerfileSyntaxError(
                f"'{words[2]}' is not a valid stage name (a letter, then letters, digits, "
                "'-', '_' or '.')",
                instruction.line,
            )
        if any(stage.name == name for stage in earlier):
            raise DockerfileSyntaxError(f"the stage name '{name}' is used twice", instruction.line)
    parent = next((stage for stage in earlier if stage.name == resolved.lower()), None)
    return Stage(
        index=len(earlier),
        name=name,
        base=base,
        resolved_base=resolved,
        parent=parent,
        from_instruction=instruction,
    )


def substitute(text: str, variables: Mapping[str, str]) -> str:
    """Docker's `$NAME`, `${NAME}`, `${NAME:-default}` and `${NAME:+alternative}`."""

    def replace(match: re.Match) -> str:
        if match.group(0) == "\\$":
            return "$"
        name = match.group("braced") or match.group("bare")
        value = variables.get(name, "")
        operator = match.group("operator")
        if operator == "-":
            return value or substitute(match.group("word"), variables)
        if operator == "+":
            return substitute(match.group("word"), variables) if value else ""
        return value

    return VARIABLE.sub(replace, text)


def matches_step(instruction: Instruction, printed: str) -> bool:
    """Whether a classic builder's `Step n/m : <printed>` line is this instruction.

    The builder prints the keyword as written and the arguments with continuations joined;
    whitespace and the keyword's case may differ.
    """
    keyword, _, rest = printed.strip().partition(" ")
    return keyword.upper() == instruction.keyword and rest.split() == instruction.value.split()


def line_of_step(dockerfile: Dockerfile, number: int, printed: str) -> int | None:
    """The line of build step `number`, as the builder printed it. The classic builder
    numbers every instruction, the ARGs before the first FROM too; the printed text
    decides when the two disagree."""
    steps = dockerfile.instructions
    if 0 < number <= len(steps) and matches_step(steps[number - 1], printed):
        return steps[number - 1].line
    matching = [ins for ins in steps if matches_step(ins, printed)]
    return matching[0].line if matching else None
