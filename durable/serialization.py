"""JSON encoding of inputs, outputs, errors and messages.

Values are encoded before anything is written, so a value that cannot be stored fails at
the call with the workflow, step and type named, never as a half-written checkpoint.
"""

from __future__ import annotations

import importlib
import json
import re
import traceback as traceback_module
from typing import Any

from durable.conf import settings
from durable.errors import PayloadTooLargeError, SerializationError, WorkflowError


def dumps(value: Any, *, where: str) -> str:
    """Encode `value` as JSON text; `where` names the call site for the error message."""
    try:
        text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    except RecursionError as exc:
        raise SerializationError(f"{where}: value is nested too deeply to store") from exc
    except (TypeError, ValueError) as exc:
        raise SerializationError(
            f"{where}: value of type {_type_name(value, exc)} is not JSON-serializable ({exc}); "
            "pass plain data (dict, list, str, int, float, bool, None), e.g. an id instead of "
            "a model instance"
        ) from exc
    if _NUL.search(text):
        raise SerializationError(
            f"{where}: a string contains a NUL character (\\u0000), which PostgreSQL cannot "
            "store; remove it or encode the data (e.g. base64)"
        )
    limit = settings.DURABLE_MAX_PAYLOAD_BYTES
    if len(text) > limit:
        raise PayloadTooLargeError(
            f"{where}: value is {len(text):,} bytes of JSON, over the {limit:,}-byte limit; "
            "store large data elsewhere (a file, a table) and pass its key, or raise "
            "DURABLE_MAX_PAYLOAD_BYTES"
        )
    return text


# "\u0000" in JSON text, unless its backslash is itself escaped (then it is literal text)
_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def roundtrip(text: str) -> Any:
    """What a replay would see; first runs return the same so both paths behave alike."""
    return json.loads(text)


def describe_for_display(value: Any) -> str:
    """JSON for values only shown to people (step inputs): unencodable parts become repr."""
    return json.dumps(value, default=lambda obj: {"__repr__": repr(obj)[:500]}, allow_nan=False)


def _type_name(value: Any, exc: Exception) -> str:
    match = re.search(r"Object of type (\w+)", str(exc))
    if match:
        return match.group(1)
    return type(value).__name__


def error_to_dict(exc: BaseException) -> dict[str, Any]:
    """Everything needed to show an error and to raise it again in another process."""
    cls = type(exc)
    try:
        args = json.loads(json.dumps(list(exc.args), allow_nan=False))
    except (TypeError, ValueError):
        args = [str(exc)]
    return {
        "type": f"{cls.__module__}.{cls.__qualname__}",
        "message": str(exc),
        "args": args,
        "traceback": "".join(traceback_module.format_exception(exc)),
    }


def error_from_dict(error: dict[str, Any]) -> BaseException:
    """Rebuild the recorded exception with its own type where possible."""
    error_type = error.get("type", "")
    message = error.get("message", "")
    cls = _import_exception_class(error_type)
    if cls is not None:
        try:
            exc = cls(*error.get("args", [message]))
        except Exception:  # noqa: BLE001 - any constructor mismatch falls back below
            exc = None
        if exc is not None:
            exc.__notes__ = ["recorded traceback:\n" + error.get("traceback", "")]
            return exc
    return WorkflowError(
        f"{error_type}: {message}", error_type=error_type, traceback=error.get("traceback", "")
    )


def _import_exception_class(dotted: str) -> type[BaseException] | None:
    module_name, _, qualname = dotted.rpartition(".")
    if not module_name:
        return None
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError:
        return None
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    if isinstance(obj, type) and issubclass(obj, BaseException):
        return obj
    return None


_NUMBERS = re.compile(r"0x[0-9a-fA-F]+|[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}|\d+(\.\d+)?")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def fingerprint(error_type: str, message: str) -> str:
    """Group errors that differ only in ids and numbers ("order 42 failed" ~ "order 7 failed")."""
    import hashlib

    normalized = _NUMBERS.sub("#", _QUOTED.sub("'…'", message))[:500]
    return hashlib.sha1(f"{error_type}|{normalized}".encode()).hexdigest()[:16]
