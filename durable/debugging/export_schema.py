"""The export format (docs/export-format.md) as code: every field a reader takes, its type
and bounds. A file is hostile until it passes; a refusal names the field's path.

`records(document)` returns only the columns listed here, checked and converted: a key the
schema does not know (a newer format's, or a row id) is never written to the database.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from durable.core import _validation as validation
from durable.core._serialization import dumps
from durable.core._validation import validate_run_id
from durable.errors import DurableError, SerializationError
from durable.models import RunStatus, StepKind, StepStatus

FORMAT = "durable.run-export"
FORMAT_VERSION = 1
MAX_DEPTH = 200  # JSON nesting a value may have (PostgreSQL and replays stay far from limits)
INT32 = validation.INT32


class ImportRefused(DurableError):
    """The document cannot be imported as it is; the message says what to change."""


class Invalid(Exception):
    """One field is wrong; `ImportRefused` gets its path prepended (`inner`: a key in it)."""

    def __init__(self, problem: str, inner: str = "") -> None:
        super().__init__(problem)
        self.inner = inner


Check = Callable[[Any], Any]


def records(document: Any) -> list[dict[str, Any]]:
    """[{"run": {...}, "steps": [...], "attempts": [...]}] with checked columns only."""
    if not isinstance(document, dict):
        raise _refused("top level", f"must be an object, not {_kind(document)}")
    if document.get("format") != FORMAT:
        raise ImportRefused(
            f'not a run export (expected "format": "{FORMAT}"); '
            "create one with `manage.py durable export RUN_ID`"
        )
    version = document.get("format_version")
    if type(version) is not int or not 1 <= version <= FORMAT_VERSION:
        raise _refused(
            "format_version",
            f"{_shown(version)} is not a version this code reads (1 to {FORMAT_VERSION}); "
            "upgrade durable here, or re-export with this version",
        )
    runs = document.get("runs")
    if not isinstance(runs, list):
        raise _refused("runs", f"must be a list of runs, not {_kind(runs)}")
    if not runs:
        raise _refused("runs", "must hold at least one run")
    return [_entry(f"runs[{i}]", entry) for i, entry in enumerate(runs)]


def _entry(path: str, entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise _refused(path, f"must be an object, not {_kind(entry)}")
    if "run" not in entry:
        raise _refused(f"{path}.run", "is missing")
    steps = _rows(f"{path}.steps", entry.get("steps", []), STEP)
    positions: set[int] = set()
    for i, step in enumerate(steps):
        if step["position"] in positions:
            raise _refused(f"{path}.steps[{i}].position", f"{step['position']} appears twice")
        positions.add(step["position"])
    return {
        "run": _record(f"{path}.run", entry["run"], RUN),
        "steps": steps,
        "attempts": _rows(f"{path}.attempts", entry.get("attempts", []), ATTEMPT),
    }


def _rows(path: str, rows: Any, schema: dict[str, tuple[bool, Check]]) -> list[dict[str, Any]]:
    if not isinstance(rows, list):
        raise _refused(path, f"must be a list, not {_kind(rows)}")
    return [_record(f"{path}[{i}]", row, schema) for i, row in enumerate(rows)]


def _record(path: str, record: Any, schema: dict[str, tuple[bool, Check]]) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise _refused(path, f"must be an object, not {_kind(record)}")
    checked = {}
    for name, (required, check) in schema.items():
        if name not in record:
            if required:
                raise _refused(f"{path}.{name}", "is missing")
            continue
        try:
            checked[name] = check(record[name])
        except Invalid as exc:
            where = f"{path}.{name}" + (f".{exc.inner}" if exc.inner else "")
            raise _refused(where, str(exc)) from None
    return checked


def _refused(path: str, problem: str) -> ImportRefused:
    return ImportRefused(
        f"{path}: {problem}; fix the file or export the run again with `durable export`"
    )


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")  # fmt: skip


def _shown(value: Any) -> str:
    return repr(value)[:60].encode("ascii", "backslashreplace").decode()


# -- field checks: each returns the value to store, or raises Invalid ------------------------


def _optional(check: Check) -> Check:
    return lambda value: None if value is None else check(value)


def _run_id(value: Any) -> str:
    try:
        return validate_run_id(value)
    except DurableError as exc:
        raise Invalid(_one_line(exc)) from None


def _text(max_length: int, *, empty: bool = False) -> Check:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise Invalid(f"must be a string, not {_kind(value)}")
        if (not value and not empty) or len(value) > max_length:
            raise Invalid(f"must be {0 if empty else 1} to {max_length} characters long")
        if value and not value.isprintable():
            raise Invalid("must not contain control characters")
        return value

    return check


def _workflow(value: Any) -> str:
    try:
        return validation.workflow_name("workflow", value)
    except DurableError as exc:
        raise Invalid(_one_line(exc).removeprefix("workflow: ")) from None


def _prose(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 10_000 or "\x00" in value:
        raise Invalid("must be a string of at most 10,000 characters, without NUL")
    _json(value)  # no lone surrogates either
    return value


def _choice(values: list[str]) -> Check:
    def check(value: Any) -> str:
        if value not in values or not isinstance(value, str):
            raise Invalid(f"{_shown(value)} is not one of {', '.join(values)}")
        return value

    return check


def _int(low: int, high: int = INT32[1]) -> Check:
    def check(value: Any) -> int:
        if type(value) is not int or not low <= value <= high:
            raise Invalid(f"must be a whole number from {low} to {high}, not {_shown(value)}")
        return value

    return check


def _number(value: Any) -> float:
    if type(value) not in (int, float) or not math.isfinite(value) or not 0 <= value <= 1e15:
        raise Invalid(f"must be a number from 0 to 1e15, not {_shown(value)}")
    return float(value)


def _bool(value: Any) -> bool:
    if type(value) is not bool:
        raise Invalid(f"must be true or false, not {_shown(value)}")
    return value


def _datetime(value: Any) -> datetime:
    try:
        parsed = parse_datetime(value) if isinstance(value, str) and len(value) < 64 else None
        if parsed is not None and parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC)  # year 1 at +05:00 is no time PostgreSQL keeps
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise Invalid(
            f"{_shown(value)} is not an ISO 8601 time with its offset "
            "(e.g. 2026-11-29T09:35:01+00:00)"
        )
    return parsed


def _json(value: Any) -> Any:
    """Any JSON value PostgreSQL can store and a replay can return: no NUL, no lone
    surrogate, not too deep, within DURABLE_MAX_PAYLOAD_BYTES."""
    if _depth(value) > MAX_DEPTH:
        raise Invalid(f"is nested more than {MAX_DEPTH} levels deep")
    try:
        dumps(value, where="value")
    except SerializationError as exc:
        raise Invalid(_one_line(exc).removeprefix("value: ")) from None
    return value


def _depth(value: Any) -> int:
    """How deeply `value` nests, without recursion (the file chose the depth)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
    return deepest


def _object(value: Any) -> dict:
    if not isinstance(value, dict):
        raise Invalid(f"must be an object, not {_kind(value)}")
    return _json(value)


def _run_input(value: Any) -> dict:
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("args"), list)
        or not isinstance(value.get("kwargs"), dict)
    ):
        raise Invalid('must be an object {"args": [...], "kwargs": {...}}')
    return _json(value)


def _error(value: Any) -> dict:
    """A recorded error; its `type` is only a name here (durable.core._error_types rebuilds it)."""
    if not isinstance(value, dict):
        raise Invalid(f'must be an object {{"type": …, "message": …}}, not {_kind(value)}')
    for key, expected in (("message", str), ("traceback", str), ("args", list), ("attrs", dict)):
        if key in value and not isinstance(value[key], expected):
            raise Invalid(f"must be {_kind(expected())}, not {_kind(value[key])}", key)
    try:
        _text(300)(value.get("type"))
    except Invalid as exc:
        raise Invalid(str(exc), "type") from None
    return _json(value)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


# per record, the columns an import reads: (required, check). Any other key is ignored.
INT32_FROM_0 = _int(0)
ERROR_LABELS: dict[str, tuple[bool, Check]] = {
    "error_type": (False, _text(300, empty=True)),
    "error_fingerprint": (False, _text(64, empty=True)),
}
TIMED: dict[str, tuple[bool, Check]] = {
    "started_at": (True, _datetime),
    "finished_at": (True, _datetime),
}
RUN: dict[str, tuple[bool, Check]] = {
    "id": (True, _run_id),
    "workflow": (True, _workflow),
    "status": (True, _choice(RunStatus.values)),
    "input": (True, _run_input),
    "version": (False, _text(100, empty=True)),
    "output": (False, _optional(_json)),
    "error": (False, _optional(_error)),
    **ERROR_LABELS,
    "tags": (False, _object),
    "queue": (False, _text(200)),
    "priority": (False, _int(*INT32)),
    "parent_id": (False, _optional(_run_id)),
    "forked_from_id": (False, _optional(_run_id)),
    "forked_from_step": (False, _optional(INT32_FROM_0)),
    "recovery_count": (False, INT32_FROM_0),
    "max_recoveries": (False, _optional(INT32_FROM_0)),
    "attempts_before_resume": (False, INT32_FROM_0),
    "steps_done": (False, INT32_FROM_0),
    "active_ms": (False, _optional(_number)),
    "timeout_seconds": (False, _optional(_number)),
    "cancel_reason": (False, _prose),
    "cancelled_with_parent": (False, _bool),
    **{name: (False, _optional(_datetime)) for name in
       ("available_at", "deadline_at", "created_at", "started_at", "finished_at", "updated_at")},
}  # fmt: skip
STEP: dict[str, tuple[bool, Check]] = {
    "position": (True, INT32_FROM_0),
    "name": (True, _text(300)),
    "kind": (True, _choice(StepKind.values)),
    "status": (True, _choice(StepStatus.values)),
    "input": (False, _optional(_json)),
    "input_hash": (False, _text(16, empty=True)),
    "output": (False, _optional(_json)),
    "error": (False, _optional(_error)),
    **ERROR_LABELS,
    "attempts": (False, INT32_FROM_0),
    **TIMED,
    "duration_ms": (False, _number),
    "patched": (False, _bool),
    "cpu_ms": (False, _number),
}
ATTEMPT: dict[str, tuple[bool, Check]] = {
    "position": (True, INT32_FROM_0),
    "attempt": (True, INT32_FROM_0),
    "name": (True, _text(300)),
    "error": (True, _error),
    **ERROR_LABELS,
    "final": (False, _bool),
    **TIMED,
}
