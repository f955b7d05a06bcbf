"""Each app's unit tests run inside its builder stage: a failing test fails the image build."""

import shutil

import pytest

from grader.engine import BuildRequest


pytestmark = pytest.mark.engine

BROKEN_TESTS = {
    "image-of-the-day": (
        "src/test/java/iotd/BrokenOnPurposeTest.java",
        "package iotd;\n\nimport org.junit.Test;\nimport static org.junit.Assert.fail;\n\n"
        "public class BrokenOnPurposeTest {\n    @Test\n    public void brokenOnPurpose() {\n"
        '        fail("broken on purpose");\n    }\n}\n',
    ),
    "access-log": (
        "test/broken-on-purpose.test.js",
        "const test = require('node:test');\nconst assert = require('node:assert');\n\n"
        "test('broken on purpose', () => assert.fail('broken on purpose'));\n",
    ),
    "image-gallery": (
        "broken_test.go",
        'package main\n\nimport "testing"\n\n'
        'func TestBrokenOnPurpose(t *testing.T) { t.Fatal("broken on purpose") }\n',
    ),
}


@pytest.mark.parametrize("exercise", sorted(BROKEN_TESTS))
def test_failing_unit_test_fails_the_reference_build(exercise, lab4, engine, tmp_path, leaves_nothing_behind):
    spec = lab4.exercise(exercise)
    context = tmp_path / "context"
    shutil.copytree(lab4.context_dir(spec, lab4.solution_dir), context)
    relative, source = BROKEN_TESTS[exercise]
    (context / relative).write_text(source)
    with engine.session(owner="tests") as sandbox:
        dockerfile = (lab4.solution_dir / spec.dockerfile).read_text()
        outcome = sandbox.build(
            BuildRequest(context, dockerfile, f"dockerlab-test-broken:{sandbox.session}"),
            throwaway=True,
        )
    assert not outcome.ok
    failing = outcome.failing_step
    assert failing.instruction.startswith("RUN") and "test" in failing.instruction + "".join(failing.output).lower()
    assert "broken on purpose" in "\n".join(outcome.log)
