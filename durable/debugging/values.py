"""Recorded values for people: inputs with their parameter names, values looked up whole.

A run's input is recorded as {"args": [...], "kwargs": {...}}; shown against the function
signature it reads as {"order_id": "o-1", "amount": 120}.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from durable.core import _registry as registry
from durable.models import Run, Step


def named(func: Callable[..., Any] | None, recorded_input: Any) -> dict[str, Any] | None:
    """The input bound to `func`'s parameters; None when it does not fit (code changed)."""
    if func is None or not isinstance(recorded_input, dict):
        return None
    args, kwargs = recorded_input.get("args", []), recorded_input.get("kwargs", {})
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        return None
    try:
        bound = inspect.signature(func).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return None
    return {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in bound.arguments.items()
    }


def run_input_named(run: Run) -> dict[str, Any] | None:
    registry.autodiscover()
    if not registry.is_registered(run.workflow):
        return None
    return named(registry.get_workflow(run.workflow).func, run.input)


def step_input_named(step: Step) -> dict[str, Any] | None:
    registry.autodiscover()
    definition = registry.get_step(step.name)
    return named(definition.func if definition else None, step.input)


VALUE_NAMES = ("input", "output", "error")


def recorded_value(run_id: str, which: str) -> tuple[bool, Any]:
    """`which`: input, output or error of the run, or step-N-input / step-N-output /
    step-N-error of its step N. (False, None) if there is no such value."""
    if which in VALUE_NAMES:
        row = Run.objects.filter(id=run_id).values_list(which, flat=True)
    else:
        parts = which.split("-")
        # ASCII digits only ("²" is a digit to str.isdigit), few enough for an int column
        position = parts[1] if len(parts) == 3 else ""
        valid = parts[0] == "step" and position.isascii() and position.isdigit()
        valid = valid and len(position) <= 9  # within an integer column
        if not valid or parts[2] not in VALUE_NAMES:
            return False, None
        row = (
            Step.objects.of_runs([run_id])
            .filter(position=int(parts[1]))
            .values_list(parts[2], flat=True)
        )
    values = list(row[:1])
    return (True, values[0]) if values else (False, None)
