"""Learner containers are hardened whatever the lab says: no new privileges, only the
capability to bind a low port, a capped log — and the lab's apps still run and answer."""

import pytest

from grader.pipeline.steps.run import STARTED

from .conftest import jobs_for

pytestmark = pytest.mark.engine
NET_BIND_SERVICE_ONLY = "0000000000000400"  # capability bit 10


def test_a_learner_container_runs_hardened_and_still_answers(lab4, engine, docker_client,
                                                             leaves_nothing_behind):
    with engine.session(owner="tests") as sandbox:
        job = jobs_for(lab4, lab4.solution_dir, sandbox, ["lab"])["lab"]
        job.prepare()
        readiness = job.known(STARTED)
        assert readiness.ready, readiness
        service = readiness.service
        host_config = docker_client.api.inspect_container(service.container_id)["HostConfig"]
        assert host_config["SecurityOpt"] == ["no-new-privileges"]
        assert host_config["CapDrop"] == ["ALL"] and host_config["CapAdd"] == ["NET_BIND_SERVICE"]
        assert host_config["LogConfig"] == {
            "Type": "json-file", "Config": {"max-size": "1m", "max-file": "1"},
        }
        # What the kernel says of the app's own process (PID 1), read through the exec API.
        status = sandbox.host(service).run("cat /proc/1/status").stdout
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        assert fields["NoNewPrivs"].strip() == "1"
        assert fields["CapEff"].strip() == NET_BIND_SERVICE_ONLY
