"""Checks on the arguments of the public API, before anything reaches the database.

A wrong type fails here with an `InvalidArgumentError` naming the argument, instead of a
database error later or a silent coercion (a list stored as the queue name "{a}").
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any

from durable.errors import InvalidArgumentError, InvalidRunIdError

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


CHILD_SEPARATOR = "~"  # callers cannot use it (validate_new_run_id): no collisions
# "~" appears only in the ids the engine derives for child runs (runtime.child_run_id)
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+=~-]{0,199}")


DOT_SEGMENTS = frozenset({".", ".."})


def validate_run_id(run_id: Any) -> str:
    """Any existing run's id, a child's included: 1-200 URL-safe characters, and no
    `/`-separated part is `.` or `..` (a browser would resolve `a/../b` to `b`, so such an
    id could open another run's page)."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.fullmatch(run_id):
        raise InvalidRunIdError(
            f"invalid run id {str(run_id)[:80]!r}: use 1-200 characters of letters, digits and "
            "._:@/+=- starting with a letter or digit (e.g. 'order-42')"
        )
    if DOT_SEGMENTS.intersection(run_id.split("/")):
        raise InvalidRunIdError(
            f"invalid run id {run_id[:80]!r}: a part between slashes cannot be '.' or '..' "
            "(browsers resolve them as paths); use e.g. 'batch-7/order-42'"
        )
    return run_id


def validate_new_run_id(run_id: Any) -> str:
    """An id a caller chooses for a new run: never one the engine may give a child."""
    validate_run_id(run_id)
    if CHILD_SEPARATOR in run_id:
        raise InvalidRunIdError(
            f"invalid run id {run_id[:80]!r}: {CHILD_SEPARATOR!r} is reserved for the "
            "ids of child runs; use letters, digits and ._:@/+=- (e.g. 'order-42')"
        )
    return run_id


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_age(text: str) -> timedelta:
    """'30d', '12h', '90m', '3600s', '2w' -> timedelta."""
    match = _DURATION.match(text or "")
    if not match:
        raise ValueError(f"invalid age {text!r}; use a number and a unit, e.g. 30d, 12h or 90m")
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
