"""Checks on the arguments of the public API, before anything reaches the database.

A wrong type fails here with an `InvalidArgumentError` naming the argument, instead of a
database error later or a silent coercion (a list stored as the queue name "{a}").
"""

from __future__ import annotations

import math
import re
from typing import Any

from durable.errors import InvalidArgumentError

INT32 = (-(2**31), 2**31 - 1)
MAX_TIMEOUT_SECONDS = 100 * 365 * 24 * 3600  # a century: past that a deadline overflows
MAX_REASON_CHARS = 2000
# a workflow's name: its dotted Python path (nested functions add "<locals>") or a name given
# to @durable.workflow(name=…); bounded, so names stay labels a metric or a page can carry
WORKFLOW_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:<>-]{0,299}")


def text(argument: str, value: Any, *, max_length: int = 200, optional: bool = True) -> Any:
    """A printable string of 1..max_length characters (None allowed when optional)."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidArgumentError(argument, f"must be a string, not {type(value).__name__}")
    if not value or len(value) > max_length:
        raise InvalidArgumentError(argument, f"must be 1 to {max_length} characters long")
    if not value.isprintable():
        raise InvalidArgumentError(argument, "must not contain control characters")
    return value


def workflow_name(argument: str, value: Any) -> str:
    """A workflow name: 1-300 characters of letters, digits and _.:<>- from a letter or _."""
    if not isinstance(value, str) or not WORKFLOW_NAME.fullmatch(value):
        raise InvalidArgumentError(
            argument,
            f"{str(value)[:80]!r} is not a workflow name: use 1-300 letters, digits and "
            "_.:<>- starting with a letter or _ (e.g. 'shop.workflows.checkout')",
        )
    return value


def free_text(argument: str, value: Any, *, max_length: int = MAX_REASON_CHARS) -> str:
    """Optional prose (a cancel reason): any length up to max_length, no NUL."""
    if not isinstance(value, str):
        raise InvalidArgumentError(argument, f"must be a string, not {type(value).__name__}")
    if len(value) > max_length or "\x00" in value:
        raise InvalidArgumentError(argument, f"must be at most {max_length} characters, no NUL")
    return value


def priority(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidArgumentError("priority", f"must be an int, not {type(value).__name__}")
    if not INT32[0] <= value <= INT32[1]:
        raise InvalidArgumentError("priority", f"must be between {INT32[0]} and {INT32[1]}")
    return value


def timeout(value: Any) -> float | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidArgumentError("timeout", f"must be seconds (a number), not {value!r:.40}")
    if not math.isfinite(value) or not 0 < value <= MAX_TIMEOUT_SECONDS:
        raise InvalidArgumentError(
            "timeout", f"must be a number of seconds above 0 and at most {MAX_TIMEOUT_SECONDS}"
        )
    return value


def tags(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidArgumentError("tags", f"must be a dict, not {type(value).__name__}")
    for key in value:
        text("tags", key, max_length=200, optional=False)
    return value


def jitter(value: Any) -> float:
    """`jitter=`: True (full jitter, 1.0), False (none) or a fraction from 0 to 1."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if not isinstance(value, int | float) or not math.isfinite(value) or not 0 <= value <= 1:
        raise InvalidArgumentError(
            "jitter", f"must be True, False or a fraction from 0 to 1, not {value!r:.40}"
        )
    return float(value)


def retry_if(value: Any) -> Any:
    """`retry_if=`: None or a callable taking the exception and answering retry or not."""
    if value is not None and not callable(value):
        raise InvalidArgumentError(
            "retry_if", f"must be a callable(exc) -> bool, not {type(value).__name__}"
        )
    return value


def max_recoveries(value: Any) -> int | None:
    """`max_recoveries=`: None (DURABLE_MAX_RECOVERIES) or executor deaths a run survives."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= INT32[1]:
        raise InvalidArgumentError(
            "max_recoveries", f"must be a whole number from 0 up, not {value!r:.40}"
        )
    return value
