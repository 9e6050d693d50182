"""Subcommands other apps add to `durable` (the dashboard adds `token`): the engine's CLI
lists them without importing those apps, which register here from their `ready()`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

AddArguments = Callable[[argparse.ArgumentParser], None]
Handle = Callable[..., Any]

SUBCOMMANDS: dict[str, tuple[AddArguments, Handle]] = {}


def register(name: str, add_arguments: AddArguments, handle: Handle) -> None:
    """Add `durable <name>`: `add_arguments(parser)` defines it, `handle(command, **options)`
    runs it (a DurableError it raises is printed as the command's error)."""
    SUBCOMMANDS[name] = (add_arguments, handle)
