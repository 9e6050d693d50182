"""DURABLE_* environment variables as Django settings, typed like their defaults.

Only variables that are present become settings; every other value comes from
durable/core/conf.py, so the defaults have one home.
"""

from __future__ import annotations

import json
import os
from typing import Any

from durable.core.conf import DEFAULTS

TRUE = {"1", "true", "yes", "on"}


def durable_settings_from_environment(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """{"DURABLE_THREADS": 4, …} for each DURABLE_* setting whose variable is set."""
    environ = os.environ if environ is None else environ
    return {
        name: parse(environ[name], default) for name, default in DEFAULTS.items() if name in environ
    }


def parse(text: str, default: Any) -> Any:
    """The variable's text as the default's type: lists comma-separated, booleans 1/true/yes/on."""
    if isinstance(default, bool):
        return text.strip().lower() in TRUE
    if isinstance(default, list):
        return [item.strip() for item in text.split(",") if item.strip()]
    if isinstance(default, int | float):
        return type(default)(text)
    if isinstance(default, str):
        return text
    return json.loads(text)
