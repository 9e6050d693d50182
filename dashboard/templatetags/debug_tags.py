"""Filters of the debugging pages."""

from __future__ import annotations

import json
from typing import Any

from django import template

from durable.debugging import values
from durable.debugging.compare import MISSING

register = template.Library()


@register.filter
def json_text(value: Any) -> str:
    """A diff side as JSON text; a key or item that one side lacks shows as (missing)."""
    if value is MISSING:
        return "(missing)"
    return json.dumps(value, indent=2, ensure_ascii=False)


@register.inclusion_tag("dashboard/debug_value.html")
def value_tools(run_id: str, which: str, position: int | None = None) -> dict[str, str]:
    """Open-whole / copy / download for a run's value, or (with `position`) a step's."""
    return {"run_id": run_id, "which": which if position is None else f"step-{position}-{which}"}


@register.filter
def named_input(step: Any) -> Any:
    """A step's input by parameter name ({"order_id": …}), or as recorded if the code that
    defines the step is not here or no longer fits it."""
    named = values.step_input_named(step)
    return step.input if named is None else named
