"""apps/stats is a plain package: no Django, nothing from ``apps.``, documented functions."""

import ast
import importlib
import sys
from pathlib import Path

import pytest

STATS_DIR = Path(__file__).resolve().parents[2] / "apps" / "stats"
MODULES = sorted(STATS_DIR.glob("*.py"))
FORBIDDEN = {"django", "apps"}


def _module_name(path: Path) -> str:
    return "apps.stats" if path.stem == "__init__" else f"apps.stats.{path.stem}"


def _imported_roots(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level > 1:  # "from .. import x" climbs out of apps.stats into apps
                yield "apps", node.lineno
            elif node.level == 0 and node.module:
                yield node.module.split(".")[0], node.lineno
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__":
            yield "__import__", node.lineno


def test_there_are_modules_to_check():
    assert len(MODULES) >= 10


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_imports_neither_django_nor_apps(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    bad = [
        (root, line)
        for root, line in _imported_roots(tree)
        if root in FORBIDDEN or root == "__import__"
    ]
    assert not bad, f"{path.name} imports {bad}"
    assert "import_module" not in path.read_text()


def test_importing_the_engine_does_not_load_django():
    """Re-import every module with Django blocked (None in sys.modules makes imports fail).

    Everything is restored when the ``with`` block ends, before any fixture teardown.
    """
    import apps

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(apps, "stats", sys.modules["apps.stats"])
        for name in [m for m in sys.modules if m == "django" or m.startswith("django.")]:
            mp.setitem(sys.modules, name, None)
        for name in [m for m in sys.modules if m == "apps.stats" or m.startswith("apps.stats.")]:
            mp.delitem(sys.modules, name)
        mp.setitem(sys.modules, "django", None)  # also when Django was never imported
        with pytest.raises(ImportError):
            importlib.import_module("django.db")  # the block works
        for path in MODULES:
            importlib.import_module(_module_name(path))  # would raise if it reached Django


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_public_functions_have_docstrings(path):
    tree = ast.parse(path.read_text())
    missing = [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.ClassDef)
        and not node.name.startswith("_")
        and not ast.get_docstring(node)
    ]
    assert not missing, f"{path.name}: {missing}"
