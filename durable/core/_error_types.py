"""Which recorded error classes may be raised again: the safe set.

A recorded error names its class as text. A class is looked up among loaded modules, never
imported, and only an `Exception` is rebuilt: `SystemExit` and other non-`Exception` classes
never are. What the engine recorded itself keeps any such class (a library's too), so replay
raises what the first run raised. Text a file brought (`durable import`) is held to the safe
set: builtins, durable itself, modules that define registered workflows or steps, and classes
the project registers.
"""

from __future__ import annotations

import builtins
import sys
from typing import Any

from durable.core import _registry as registry

_registered: dict[str, type[Exception]] = {}
OWN_MODULES = ("durable.errors",)


def register_error_type(cls: type[Exception]) -> type[Exception]:
    """Let recorded errors of `cls` (defined outside a workflow module) keep their class on
    replay and in result(); usable as a class decorator."""
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        raise TypeError(f"{cls!r} is not an Exception subclass; only those can be registered")
    _registered[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return cls


def safe_exception_class(dotted: Any, *, from_file: bool = False) -> type[Exception] | None:
    """The class `dotted` ("module.Qual.Name") names, if it may be rebuilt, else None: any
    loaded `Exception` for what the engine recorded, the safe set for what a file brought."""
    if not isinstance(dotted, str):
        return None
    if dotted in _registered:
        return _registered[dotted]
    for module_name, qualname in _splits(dotted):
        cls = _defined_in(module_name, qualname)
        if cls is not None:
            return cls if not from_file or _is_safe(cls) else None
    return None


def _splits(dotted: str) -> list[tuple[str, str]]:
    """Every (module, qualname) reading of "a.b.C.D", the longest module first."""
    parts = dotted.split(".")
    return [(".".join(parts[:i]), ".".join(parts[i:])) for i in range(len(parts) - 1, 0, -1)]


def _defined_in(module_name: str, qualname: str) -> type[Exception] | None:
    """The class named `qualname` that module `module_name` itself defines, if it is loaded."""
    obj: Any = sys.modules.get(module_name)
    for part in qualname.split("."):
        # the namespace itself, not getattr: no module __getattr__ (a lazy import) runs
        obj = vars(obj).get(part) if obj is not None and hasattr(obj, "__dict__") else None
    if not (isinstance(obj, type) and issubclass(obj, Exception)):
        return None
    if obj.__module__ != module_name or obj.__qualname__ != qualname:
        return None
    return obj


def _is_safe(cls: type[Exception]) -> bool:
    if cls.__module__ in OWN_MODULES:
        return True
    if cls.__module__ == "builtins":
        return getattr(builtins, cls.__qualname__, None) is cls
    return cls.__module__ in registry.defining_modules()
