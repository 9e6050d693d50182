"""`durable …`: the console script, the same commands as `python manage.py durable …`.

It needs the project's settings. Run from a Django project (or below it), it goes through
the project's own manage.py, so it behaves exactly as `python manage.py durable …` does
there; elsewhere DJANGO_SETTINGS_MODULE names the settings.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

NO_SETTINGS = (
    "durable: no Django project here: run it in your project's directory (where manage.py "
    "is), or set DJANGO_SETTINGS_MODULE (e.g. DJANGO_SETTINGS_MODULE=shop.settings) with "
    "the project on PYTHONPATH."
)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `durable` console script (pyproject's [project.scripts])."""
    args = sys.argv[1:] if argv is None else argv
    manage = find_manage_py(Path.cwd())
    if manage is None and not os.environ.get("DJANGO_SETTINGS_MODULE"):
        raise SystemExit(NO_SETTINGS)
    from django.core.exceptions import ImproperlyConfigured

    try:
        if manage is not None:
            _run_manage_py(manage, args)
        else:
            _run_with_settings_module(args)
    except ImproperlyConfigured as problem:
        raise SystemExit(f"durable: {problem}") from None


def find_manage_py(start: Path) -> Path | None:
    """The nearest manage.py in `start` or one of its parents."""
    for folder in (start, *start.parents):
        candidate = folder / "manage.py"
        if candidate.is_file():
            return candidate
    return None


def _run_manage_py(manage: Path, args: list[str]) -> None:
    sys.path.insert(0, str(manage.parent))
    sys.argv = [str(manage), "durable", *args]
    runpy.run_path(str(manage), run_name="__main__")


def _run_with_settings_module(args: list[str]) -> None:
    from django.core.management import execute_from_command_line

    sys.path.insert(0, os.getcwd())
    execute_from_command_line(["durable", "durable", *args])
