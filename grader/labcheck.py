"""Instructor checks on a lab: every file the spec names exists, for the learner's starter
folder and for the reference solutions alike."""

from __future__ import annotations

from grader.spec import LabSpec, display_path


def missing_files(lab: LabSpec) -> list[str]:
    problems = []
    for submission, role in ((lab.lab_dir, "starter"), (lab.solution_dir, "solution")):
        for exercise in lab.exercises:
            dockerfile = submission / exercise.dockerfile
            if not dockerfile.is_file():
                problems.append(f"{exercise.id}: {role} Dockerfile {display_path(dockerfile)}")
            context = lab.context_dir(exercise, submission)
            if not context.is_dir():
                problems.append(f"{exercise.id}: build context {display_path(context)}")
                continue
            for check in exercise.checks:
                for needed in check.context_files():
                    if not (context / needed).is_file():
                        problems.append(
                            f"{exercise.id}: file {display_path(context / needed)} "
                            f"({check.rule_id})"
                        )
    return sorted(set(problems))
