"""ML4-USER judged with no engine: the image's facts are written by hand, as the build step
would produce them."""

from pathlib import Path

import pytest

from grader.dockerfile import Dockerfile
from grader.engine import ImageFacts
from grader.errors import SpecError
from grader.pipeline.facts import DockerfileFacts, Facts
from grader.pipeline.steps.build import IMAGE
from grader.spec import load_lab

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
      - {kind: non-root-user, points: 2}
"""

TWO_STAGES = """\
FROM diamol/golang AS builder
RUN go build -o /server

FROM diamol/base
COPY --from=builder /server /server
CMD ["/server"]
"""

WITH_USER = TWO_STAGES + "USER {user}\n"


def facts_for(tmp_path: Path, user: str, dockerfile: str = TWO_STAGES, lab: str = LAB) -> Facts:
    (tmp_path / "lab.yml").write_text(lab)
    spec = load_lab(tmp_path / "lab.yml")
    exercise = spec.exercises[0]
    text = dockerfile.format(user=user)
    parsed = DockerfileFacts(
        tmp_path / exercise.dockerfile, "app/Dockerfile", text,
        DockerfileFacts.digest(text.encode()), parsed=Dockerfile.from_text(text),
    )
    image = ImageFacts(
        ref="demo-app", id="sha256:0", size_bytes=5_000_000, exposed_ports=(), env={},
        cmd=("/server",), entrypoint=None, workdir="", user=user,
    )
    return Facts(spec, exercise, tmp_path, parsed, {IMAGE: image})


def judged(facts: Facts):
    check = facts.exercise.checks[0]
    return check.judge(facts)


@pytest.mark.parametrize("user", ["nobody", "1000", "app:app", "65534:65534", "1000:0"])
def test_a_non_root_user_passes(tmp_path, user):
    outcome = judged(facts_for(tmp_path, user, WITH_USER))
    assert outcome.passed
    assert f"'{user}'" in outcome.what


@pytest.mark.parametrize("user", ["root", "0", "root:root", "0:0", "0:1000", "00", " root "])
def test_root_fails_at_the_last_user_line(tmp_path, user):
    outcome = judged(facts_for(tmp_path, user, WITH_USER))
    assert not outcome.passed
    assert "runs as root" in outcome.what
    assert f"`USER {user.strip()}`" in outcome.what
    assert str(outcome.location) == "app/Dockerfile:7"
    assert "USER 65534" in outcome.fix and "useradd" in outcome.fix


def test_no_user_means_root_at_the_final_from_line(tmp_path):
    outcome = judged(facts_for(tmp_path, ""))
    assert not outcome.passed
    assert outcome.what == "The image sets no USER, so it runs as root."
    assert str(outcome.location) == "app/Dockerfile:4"
    assert "USER 65534" in outcome.fix


def test_root_from_the_base_image_is_said_so(tmp_path):
    outcome = judged(facts_for(tmp_path, "0:0"))
    assert not outcome.passed
    assert "its base image sets this one" in outcome.what
    assert str(outcome.location) == "app/Dockerfile:4"


def test_the_user_of_a_parent_stage_is_the_one_in_force(tmp_path):
    dockerfile = "FROM diamol/base AS runtime\nUSER root\n\nFROM runtime\nCMD [\"/server\"]\n"
    outcome = judged(facts_for(tmp_path, "root", dockerfile))
    assert str(outcome.location) == "app/Dockerfile:2"


def test_users_narrows_the_accepted_ones(tmp_path):
    lab = LAB.replace("points: 2}", "points: 2, users: ['65534', 'app:app']}")
    assert judged(facts_for(tmp_path, "65534:65534", WITH_USER, lab)).passed
    assert judged(facts_for(tmp_path, "app:app", WITH_USER, lab)).passed
    outcome = judged(facts_for(tmp_path, "app:staff", WITH_USER, lab))
    assert not outcome.passed
    assert outcome.what.startswith(
        "The image runs as 'app:staff'; the lab expects 65534 or app:app."
    )
    assert outcome.fix == "Make `USER 65534` the final stage's last USER."
    assert str(outcome.location) == "app/Dockerfile:7"


def test_the_spec_accepts_the_kind_with_its_default_parameters(tmp_path):
    (tmp_path / "lab.yml").write_text(LAB)
    check = load_lab(tmp_path / "lab.yml").exercises[0].checks[0]
    assert (check.rule_id, check.points, check.users) == ("ML4-USER", 2, [])
    assert check.display_title == "the image runs as a non-root user"


def test_the_spec_refuses_root_among_the_users(tmp_path):
    (tmp_path / "lab.yml").write_text(LAB.replace("points: 2}", "points: 2, users: ['0:0']}"))
    with pytest.raises(SpecError) as raised:
        load_lab(tmp_path / "lab.yml")
    assert "lab.yml:11: exercises[0].checks[0].users:" in raised.value.message
    assert "'0:0' is root" in raised.value.message
