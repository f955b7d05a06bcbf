"""The check kinds a lab spec may use: one module each, registered by one line here.

The key is the `kind:` written in lab.yml; the value names the class implementing it.
"""

from importlib import import_module

from grader.checks.base import Check, Phase

KINDS: dict[str, str] = {
    "stages": "grader.checks.stages:StagesCheck",
    "final-base": "grader.checks.final_base:FinalBaseCheck",
    "dependency-order": "grader.checks.dependency_order:DependencyOrderCheck",
    "instructions": "grader.checks.instructions:InstructionsCheck",
    "lint": "grader.checks.lint:LintCheck",
    "forbidden-tools": "grader.checks.forbidden_tools:ForbiddenToolsCheck",
    "size": "grader.checks.size:SizeCheck",
    "metadata": "grader.checks.metadata:MetadataCheck",
    "non-root-user": "grader.checks.user:NonRootUserCheck",
    "cache": "grader.checks.cache:CacheCheck",
    "http": "grader.checks.http:HttpCheck",
    "output": "grader.checks.output:OutputCheck",
    "command": "grader.checks.command:CommandCheck",
}


def check_class(kind: str) -> type[Check]:
    module_name, class_name = KINDS[kind].split(":")
    return getattr(import_module(module_name), class_name)


def all_check_classes() -> list[type[Check]]:
    return [check_class(kind) for kind in KINDS]


__all__ = ["KINDS", "Check", "Phase", "all_check_classes", "check_class"]
