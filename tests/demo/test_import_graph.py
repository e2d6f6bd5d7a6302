"""The demo sits at the top of the import graph, and calls stays below experiments' pages and
results: read from the source (every import, late ones inside functions included)."""

import ast
from pathlib import Path

import pytest

APPS = Path(__file__).resolve().parents[2] / "apps"
# What apps.calls must never reach: the pages of experiments, and the apps above calls.
ABOVE_CALLS = (
    "apps.results",
    "apps.reviews",
    "apps.judging",
    "apps.demo",
    "apps.experiments.views",
    "apps.experiments.forms",
    "apps.experiments.api",
    "apps.experiments.urls",
    "apps.experiments.templatetags",
)


def imported_modules(path: Path, root: Path = APPS.parent):
    """(module, line) for every import in a file; relative ones resolved against its package
    (`root` is the folder holding `apps/`)."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            yield base, node.lineno
            yield from ((f"{base}.{alias.name}", node.lineno) for alias in node.names)


def reaches(module: str, target: str) -> bool:
    return module == target or module.startswith(f"{target}.")


def offending(files, targets, root: Path = APPS.parent) -> list[str]:
    return [
        f"{path.relative_to(root)}:{line} imports {module}"
        for path in files
        for module, line in imported_modules(path, root)
        if any(reaches(module, target) for target in targets)
    ]


def test_the_checker_sees_plain_relative_and_late_imports(tmp_path):
    """The check can fail: it finds each way of importing the demo, and nothing else."""
    fake = tmp_path / "apps" / "calls"
    fake.mkdir(parents=True)
    (fake / "x.py").write_text(
        "import apps.demography\nimport apps.demo\nfrom ..demo import conversations\n"
        "from . import models\n"
        "def f():\n    from apps.demo.management.commands import seed_demo\n"
    )
    found = offending([fake / "x.py"], ["apps.demo"], root=tmp_path)
    lines = sorted({int(entry.split(":")[1].split(" ")[0]) for entry in found})
    assert lines == [2, 3, 6]


def test_the_demo_app_exists_with_its_commands():
    assert (APPS / "demo" / "management" / "commands" / "seed_demo.py").exists()
    assert (APPS / "demo" / "management" / "commands" / "simulate_traffic.py").exists()
    assert not (APPS / "calls" / "management").exists()


def test_no_app_but_the_demo_imports_the_demo():
    files = [p for p in APPS.rglob("*.py") if p.relative_to(APPS).parts[0] != "demo"]
    assert len(files) > 50
    assert offending(files, ["apps.demo"]) == []


def test_calls_imports_neither_experiment_pages_nor_results():
    files = list((APPS / "calls").rglob("*.py"))
    assert files
    assert offending(files, ABOVE_CALLS) == []


@pytest.mark.django_db
def test_the_demo_commands_are_found_by_manage_py():
    from django.core.management import get_commands

    commands = get_commands()
    assert commands["seed_demo"] == "apps.demo"
    assert commands["simulate_traffic"] == "apps.demo"
