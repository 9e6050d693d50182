"""The engine's public face is the only door: the dashboard, the demo and the project
configuration import no private engine module (DESIGN.md: `dashboard → durable`, through
the models, `durable.operations` and the public read API `durable.observability.inspection`).

Private means a path segment with a leading underscore (`durable.core._start`) or the store
package (`durable.core.store`, every SQL statement of the engine). Imports written inside
functions count too: they hide a dependency from Python, not from a reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OUTSIDERS = ("dashboard", "demo", "config")
STORE = ("durable", "core", "store")


def is_private(module: str) -> bool:
    """A private engine module: an underscored segment, or the store package."""
    parts = module.split(".")
    if parts[0] != "durable":
        return False
    return any(part.startswith("_") for part in parts[1:]) or tuple(parts[:3]) == STORE


def engine_imports(path: Path) -> list[tuple[int, str]]:
    """Every engine module (or module.name) a file imports, with its line number."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from durable.core import _registry` imports the module durable.core._registry
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
        elif name := _dynamic_import(node):
            found.append((node.lineno, name))
    return [(line, name) for line, name in found if name.split(".")[0] == "durable"]


def _dynamic_import(node: ast.AST) -> str | None:
    """The literal name in `import_module("durable.x")` / `__import__("durable.x")`."""
    if not isinstance(node, ast.Call) or not node.args:
        return None
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    first = node.args[0]
    if called in ("import_module", "__import__") and isinstance(first, ast.Constant):
        return str(first.value)
    return None


def modules_of(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", OUTSIDERS)
def test_no_module_outside_the_engine_imports_a_private_engine_module(package):
    offending = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in modules_of(package)
        for line, name in engine_imports(path)
        if is_private(name)
    ]
    assert offending == [], (
        "import the engine's public face instead (durable, durable.operations, "
        "durable.models, durable.observability.inspection): " + "; ".join(offending)
    )


@pytest.mark.parametrize("package", OUTSIDERS)
def test_the_boundary_check_sees_the_package(package):
    """The walk above reads real files: an empty package would pass it vacuously."""
    assert modules_of(package)


@pytest.mark.parametrize(
    ("source", "private"),
    [
        ("from durable.core._start import validate_run_id", True),
        ("from durable.core import _registry as registry", True),
        ("from durable.core.store import execute", True),
        ("import durable.core.store._runs", True),
        ("def f():\n    from durable.observability import _health\n", True),
        ("importlib.import_module('durable.core._start')", True),
        ("from durable import operations", False),
        ("from durable.models import Run", False),
        ("from durable.observability.inspection import time_split", False),
        ("from durable.core.conf import settings", False),
    ],
)
def test_the_boundary_check_tells_private_from_public(tmp_path, source, private):
    module = tmp_path / "module.py"
    module.write_text(source)
    assert any(is_private(name) for _, name in engine_imports(module)) is private
