"""Valid Docker syntax is judged, never "a problem of the grader": EXPOSE read as Docker reads
it (ranges, protocols, host parts, `$NAME` from ARG and ENV), ENV in both forms, ARG with and
without values (in FROM too), HEALTHCHECK, ONBUILD, empty JSON forms, and a USER that only
looks like a number. Each Dockerfile goes through every check kind that reads the file or the
image, on the fake engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.checks.user import is_root
from grader.dockerfile import Dockerfile, PortRange, port_range
from grader.results import Status
from grader.runner import grade
from tests.fake_engine import FakeEngine, Recorded, exercise, quick_readiness, write_files, write_lab

GRADER_BUG = "The grader failed inside this check"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DOCKERLAB_CACHE", str(tmp_path / "cache"))  # no remembered outcomes
    monkeypatch.chdir(tmp_path)
    quick_readiness(monkeypatch)


def graded(tmp_path: Path, dockerfile: str, *checks: dict, engine: FakeEngine | None = None):
    write_files(tmp_path, {"app/Dockerfile": dockerfile, "app/main.go": "package main\n"})
    lab = write_lab(tmp_path, exercise("app", checks=list(checks)))
    return grade(lab, tmp_path, engine or FakeEngine()).exercises[0]


def result_of(exercise_result, rule_id: str):
    (found,) = [check for check in exercise_result.checks if check.rule_id == rule_id]
    return found


# -- EXPOSE ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("word", "expected"), [
    ("80", PortRange(80, 80)),
    ("80/tcp", PortRange(80, 80)),
    ("80/TCP", PortRange(80, 80)),
    ("80/udp", PortRange(80, 80, "udp")),
    ("53/SCTP", PortRange(53, 53, "sctp")),
    ("8000-9000", PortRange(8000, 9000)),
    ("90-91/udp", PortRange(90, 91, "udp")),
    ("127.0.0.1:81:82", PortRange(82, 82)),  # a host part is allowed; the container port counts
    ("0.0.0.0::83/tcp", PortRange(83, 83)),
    ("84/tcp/x", PortRange(84, 84)),  # Docker reads the first protocol only
    ("0", PortRange(0, 0)),
    ("65535", PortRange(65535, 65535)),
])
def test_an_expose_word_is_read_as_docker_reads_it(word, expected):
    assert port_range(word) == expected


@pytest.mark.parametrize("word", ["abc", "65536", "90000", "9000-8000", "80/xyz", "", "/udp",
                                  "80-", "-80", "²", "٨٠", "+80", "80 "])
def test_an_expose_word_docker_rejects_is_no_port(word):
    assert port_range(word) is None


def test_expose_ports_of_a_stage_are_those_docker_20_10_put_in_the_image():
    # Built on Docker 20.10: Config.ExposedPorts was exactly the list below.
    text = """\
FROM diamol/base AS one
ARG P=70
ENV Q="71 72/udp"
EXPOSE 8000-8003 80/udp
FROM one
ARG P
ARG R
EXPOSE 80/TCP 443 $Q ${P:-60} 127.0.0.1:81:82 0.0.0.0::83/tcp 53/SCTP 90-91/udp 84/tcp/x
EXPOSE ${R:-65}
"""
    dockerfile = Dockerfile.from_text(text)
    ports = dockerfile.exposed_ports(dockerfile.final)
    expanded = sorted(f"{port}/{found.protocol}" for found in ports
                      for port in range(found.first, found.last + 1))
    assert expanded == sorted([
        "443/tcp", "53/sctp", "60/tcp", "65/tcp", "71/tcp", "72/udp", "80/tcp", "80/udp",
        "8000/tcp", "8001/tcp", "8002/tcp", "8003/tcp", "82/tcp", "83/tcp", "84/tcp", "90/udp",
        "91/udp",
    ])


def test_expose_variables_follow_arg_and_env_scopes():
    text = """\
ARG GLOBAL=7000
FROM diamol/base
ARG GLOBAL
ARG FROM_BUILD=1
ENV A=80
ENV A=81 B=$A
ENV C 82 83
EXPOSE $GLOBAL $FROM_BUILD $A $B $C ${UNSET} ${UNSET:-84}
"""
    dockerfile = Dockerfile.from_text(text, build_args={"FROM_BUILD": "9000"})
    ports = [str(found) for found in dockerfile.exposed_ports(dockerfile.final)]
    # B takes A's value from before its own line, as Docker does; C's old form keeps both words.
    assert ports == ["7000", "9000", "81", "80", "82", "83", "84"]


@pytest.mark.parametrize(("expose", "wanted", "passed", "said"), [
    ("EXPOSE 8000-9000", [8500], True, "The final stage has EXPOSE 8000-9000"),
    ("EXPOSE 80/udp", [80], False, "does not EXPOSE 80 (it exposes 80/udp)"),
    ("EXPOSE 80/tcp 443", [80, 443], True, "The final stage has EXPOSE 80 443"),
    ("ENV PORT=80\nEXPOSE $PORT", [80], True, "The final stage has EXPOSE 80"),
    ("EXPOSE 1-65535/udp 90000", [80], False, "does not EXPOSE 80 (it exposes 1-65535/udp)"),
])
def test_ml4_instr_judges_expose_as_docker_reads_it(tmp_path, expose, wanted, passed, said):
    text = f"FROM diamol/golang AS builder\nRUN go build -o /server\nFROM diamol/base\n{expose}\n" \
           'COPY --from=builder /server /server\nCMD ["/server"]\n'
    check = {"kind": "instructions", "expose": wanted, "points": 2}
    result = result_of(graded(tmp_path, text, check), "ML4-INSTR")
    assert result.status is (Status.PASSED if passed else Status.FAILED), result.what
    assert said in result.what


# -- every kind, on valid syntax the grader once tripped over -----------------------------

BUILDER = "FROM diamol/golang AS builder\nRUN go build -o /server\n"
VALID = {
    "expose range and protocols": "FROM diamol/base\nEXPOSE 8000-9000\nEXPOSE 80/udp\n"
                                  "EXPOSE 80/tcp 443\n",
    "healthcheck forms": "FROM diamol/base\nHEALTHCHECK --interval=5s --timeout=3s CMD "
                         '["wget", "-q", "http://localhost/"]\nHEALTHCHECK CMD wget -q '
                         "http://localhost/ || exit 1\nHEALTHCHECK NONE\n",
    "env forms": 'FROM diamol/base\nENV a=b c="d e"\nENV A B C\nENV PATH=/web:$PATH\n',
    "arg without value in FROM": "ARG TAG\nARG IMAGE=diamol/base\n"
                                 "FROM ${IMAGE}:${TAG:-latest}\nARG TAG\n",
    "onbuild and others": "FROM diamol/base\nONBUILD COPY . /\nSTOPSIGNAL SIGTERM\n"
                          'SHELL ["/bin/sh", "-c"]\nVOLUME ["/data"]\nVOLUME /x /y\n'
                          'LABEL a=b "c d"=e\nMAINTAINER me\nWORKDIR $HOME\n',
    "empty json forms": "FROM diamol/base\nCMD []\nENTRYPOINT []\n",
    "user that looks like a number": "FROM diamol/base\nUSER ²\n",
    "expose an unset variable": "FROM diamol/base\nEXPOSE $UNSET\n",
}
EVERY_KIND = [
    {"kind": "stages"},
    {"kind": "final-base", "allowed": ["diamol/base"]},
    {"kind": "dependency-order", "step": "go build", "inputs": ["go.mod"]},
    {"kind": "instructions", "expose": [80], "exec_form": True},
    {"kind": "metadata", "exposed_ports": [80], "env": {"a": "b"}},
    {"kind": "non-root-user"},
    {"kind": "forbidden-tools", "tools": ["go"]},
    {"kind": "size", "max_mb": 30},
]


@pytest.mark.parametrize("final_stage", VALID.values(), ids=list(VALID))
def test_valid_syntax_gets_a_verdict_from_every_kind(tmp_path, final_stage):
    text = BUILDER + final_stage + "COPY --from=builder /server /server\n"
    user = "²" if "USER ²" in final_stage else ""
    engine = FakeEngine({"app": Recorded(image={"user": user,
                                                "exposed_ports": ("80/tcp", "80/udp")})})
    result = graded(tmp_path, text, *EVERY_KIND, engine=engine)
    assert result_of(result, "ML4-BUILD").status is Status.PASSED
    for check in result.checks:
        assert GRADER_BUG not in check.what, f"{check.rule_id}: {check.what}\n{check.details}"
        assert check.status is not Status.SKIPPED, f"{check.rule_id}: {check.what}"


def test_a_from_whose_arg_is_empty_is_reported_as_the_file_not_parsing(tmp_path):
    # Docker refuses it too ("base name ($IMAGE) should not be blank"): ML4-BUILD fails there.
    result = graded(tmp_path, "ARG IMAGE\nFROM $IMAGE\n", {"kind": "stages"})
    stages = result_of(result, "ML4-STAGES")
    assert stages.status is Status.SKIPPED
    assert "line 2: FROM $IMAGE names no image: the ARG it uses is empty" in stages.what


@pytest.mark.parametrize(("user", "root"), [
    ("", True), ("root", True), ("0", True), ("00:0", True), ("+0", True), ("root:app", True),
    ("1000", False), ("65534:65534", False), ("app", False),
    ("²", False), ("٠", False), ("０", False), ("0x0", False),  # names, not numbers, to Docker
])
def test_root_is_what_the_runtime_reads_as_uid_0(user, root):
    assert is_root(user) is root
