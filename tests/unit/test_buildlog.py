"""Reading the classic builder's log, as printed by Docker 20.10."""

from grader.engine.buildlog import created_images, follow_step, without_added_first_line

LOG = """\
Step 1/5 : FROM diamol/golang AS builder
 ---> 44cebdf98358
Step 2/5 : WORKDIR /src
 ---> Using cache
 ---> 7e5ffb55d477
Step 3/5 : RUN go build -o /server .
 ---> Running in cd852609fe72
Removing intermediate container cd852609fe72
 ---> c3fc3e2ee6d7
Step 4/5 : FROM diamol/base
 ---> d2cdb6ff6640
Step 5/5 : COPY --from=builder /server /server
 ---> 5c90c7b68791
"""


def read(log: str):
    steps = []
    for line in log.splitlines():
        follow_step(line, steps)
    return steps


def test_steps_are_numbered_and_marked_cached():
    steps = read(LOG)
    assert [(s.number, s.total) for s in steps] == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    assert [s.cached for s in steps] == [False, True, False, False, False]
    # A step keeps its output while it is the last one (the failing one, for the verdict).
    running = read("\n".join(LOG.splitlines()[:7]))[2]
    assert running.output[0] == " ---> Running in cd852609fe72"
    assert not steps[2].output


def test_created_images_leave_out_bases_and_cache_hits():
    # Removing these frees what a throw-away build made, in every stage.
    assert created_images(read(LOG)) == ["c3fc3e2ee6d7", "5c90c7b68791"]


def test_the_container_of_the_running_step_is_known_until_it_ends():
    steps = read("\n".join(LOG.splitlines()[:7]))
    assert steps[-1].container == "cd852609fe72"
    assert read(LOG)[2].container is None


def test_an_added_first_line_is_taken_out_of_numbers_and_errors():
    steps = read(
        "Step 1/3 : ARG BUILDPLATFORM=linux/amd64\n"
        "Step 2/3 : FROM diamol/golang AS builder\n"
        " ---> 44cebdf98358\n"
        "Step 3/3 : WORKDIR /src\n"
    )
    steps, error = without_added_first_line(steps, "dockerfile parse error line 7: unknown")
    assert steps[0].number == 1 and steps[0].instruction == "FROM diamol/golang AS builder"
    assert steps[0].total == 2
    assert error == "dockerfile parse error line 6: unknown"
    _, newer = without_added_first_line([], "dockerfile parse error on line 3: unknown")
    assert newer == "dockerfile parse error on line 2: unknown"
