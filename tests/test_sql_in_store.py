"""Every SQL statement of the engine lives in the store (docs/architecture.md): outside
`durable/core/store/` and the migrations, no module of `durable/` holds statement text or
opens a cursor on Django's connection. A statement elsewhere would skip the store's one
execute path and its retry when a connection drops, and hide from a reader of the store.

The executors' lifeline is the one module with a cursor of its own: it runs the store's
statements on a dedicated connection (a session lock must outlive Django's connection).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "durable"
ALLOWED = (ENGINE / "core" / "store", ENGINE / "migrations")
OWN_CONNECTION = {ENGINE / "executors" / "_lifeline.py"}

STATEMENT = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|FOR\s+UPDATE\s+SKIP"
    r"|ON\s+CONFLICT)\b",
    re.DOTALL,
)


def docstrings(tree: ast.AST) -> set[int]:
    """The ids of the string nodes that are docstrings (prose may name a statement)."""
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.add(id(value))
    return found


def sql_outside_the_store(path: Path) -> list[str]:
    """Statement text and cursors in one module, as `path:line what`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    prose = docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            if STATEMENT.search(node.value):
                found.append(f"{node.lineno} statement {node.value.strip()[:60]!r}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "cursor"
            and path not in OWN_CONNECTION
        ):
            found.append(f"{node.lineno} opens a cursor")
    name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    return [f"{name}:{line}" for line in found]


def engine_modules() -> list[Path]:
    return sorted(
        path
        for path in ENGINE.rglob("*.py")
        if not any(path.is_relative_to(allowed) for allowed in ALLOWED)
    )


def test_no_engine_module_outside_the_store_holds_sql_or_opens_a_cursor():
    offending = [line for path in engine_modules() for line in sql_outside_the_store(path)]
    assert offending == [], (
        "move the statement into durable/core/store/ as a named statement run through "
        "_execute.execute: " + "; ".join(offending)
    )


def test_the_check_reads_the_engine():
    """An empty walk would pass vacuously."""
    assert len(engine_modules()) > 50


@pytest.mark.parametrize(
    ("source", "offends"),
    [
        ('Q = """\nSELECT id FROM durable_run WHERE id = %(id)s\n"""', True),
        ('Q = "UPDATE durable_alertincident SET x = 1 WHERE id = %s"', True),
        ('Q = "INSERT INTO t (a) VALUES (1) ON CONFLICT DO NOTHING"', True),
        ("with connection.cursor() as c:\n    pass", True),
        ('"""Rows locked with FOR UPDATE SKIP LOCKED, then SELECT ... FROM."""', False),
        ('def f():\n    """Select the runs to update."""', False),
        ('message = "select a run from the list"', False),
    ],
)
def test_the_check_tells_statements_from_prose(tmp_path, source, offends):
    module = tmp_path / "module.py"
    module.write_text(source)
    assert bool(sql_outside_the_store(module)) is offends
