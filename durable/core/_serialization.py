"""JSON encoding of inputs, outputs, errors and messages.

Values are encoded before anything is written, so a value that cannot be stored fails at
the call with the workflow, step and type named, never as a half-written checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import re
import traceback as traceback_module
from dataclasses import dataclass
from json.encoder import c_encode_basestring, c_make_encoder  # type: ignore[attr-defined]
from json.scanner import c_make_scanner  # type: ignore[attr-defined]
from typing import Any

from durable.core import _error_types as error_types
from durable.core._fingerprints import normalize
from durable.core.conf import settings
from durable.errors import PayloadTooLargeError, SerializationError, WorkflowError


def dumps(value: Any, *, where: str) -> str:
    """Encode `value` as JSON text; `where` names the call site for the error message.

    The text is stored verbatim (a `json` column) and replays decode exactly it, so it
    must hold nothing PostgreSQL cannot store: NUL characters and lone surrogates are
    refused here, before anything is written.
    """
    try:
        text = _encode(value)
    except RecursionError as exc:
        raise SerializationError(f"{where}: value is nested too deeply to store") from exc
    except (TypeError, ValueError) as exc:
        if str(exc).startswith("Out of range float"):  # NaN, Infinity, 1e400 read as inf
            raise SerializationError(
                f"{where}: value holds NaN or Infinity, which JSON cannot hold; pass finite numbers"
            ) from exc
        raise SerializationError(
            f"{where}: value of type {_type_name(value, exc)} is not JSON-serializable ({exc}); "
            "pass plain data (dict, list, str, int, float, bool, None), e.g. an id instead of "
            "a model instance"
        ) from exc
    return _checked(text, where)


# one encoder for every value (json.dumps builds a new one per call when given options)
_ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"), ensure_ascii=False)


def _encode(value: Any) -> str:
    """`_ENCODER.encode(value)`, with the C encoder called directly: what `encode` does for
    this encoder, without its Python frames (1 µs of a step's two encodings). A fresh
    `markers` dict per call keeps the circular-reference check and the thread safety."""
    if c_make_encoder is None:  # not CPython's C accelerator
        return _ENCODER.encode(value)
    chunks = c_make_encoder(
        {}, _ENCODER.default, c_encode_basestring, None, ":", ",", False, False, False
    )(value, 0)
    return "".join(chunks)


def _checked(text: str, where: str) -> str:
    size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    if not text.isascii() and _SURROGATE.search(text):
        raise SerializationError(
            f"{where}: value holds a lone surrogate character, which PostgreSQL cannot "
            "store; decode the bytes it came from properly (or store them as base64)"
        )
    if "\\u0000" in text and _NUL_ESCAPE.search(text):
        raise SerializationError(
            f"{where}: value holds a NUL character (\\x00), which PostgreSQL cannot store; "
            "strip it, or store binary data as base64"
        )
    limit = settings.DURABLE_MAX_PAYLOAD_BYTES
    if size > limit:
        raise PayloadTooLargeError(
            f"{where}: value is {size:,} bytes of JSON, over the {limit:,}-byte limit; "
            "store large data elsewhere (a file, a table) and pass its key, or raise "
            "DURABLE_MAX_PAYLOAD_BYTES"
        )
    return text


_SURROGATE = re.compile("[\ud800-\udfff]")
# a \u0000 escape, not an escaped backslash followed by "u0000"
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def roundtrip(text: str) -> Any:
    """What a replay would see; first runs return the same so both paths behave alike.

    `text` is this module's compact encoding (no surrounding whitespace), so the C scanner
    reads it whole; `json.loads` wraps the same scanner in two regex matches (1.5 µs)."""
    if _scan is not None:
        value, end = _scan(text, 0)
        if end == len(text):
            return value
    return json.loads(text)


_scan = c_make_scanner(json.JSONDecoder()) if c_make_scanner is not None else None


@dataclass(frozen=True)
class EntryInput:
    """An entry's input as shown (JSON text) and its short hash, which replay compares."""

    text: str
    hash: str


def entry_input(value: Any, *, where: str, checked: Any = ...) -> EntryInput:
    """The input of a step or primitive: shown as JSON (unencodable parts as their repr)
    and hashed, so a replay can tell the code passes the same input at that position.

    `checked` is what the hash covers when it is not the whole shown value. Parts that are
    not JSON hash as their type only: a repr (an address, a set's order) varies by process.
    """
    if checked is ...:
        text = _plain_input(value, where)
        if text is not None:  # all of it JSON: shown and hashed alike
            return EntryInput(text, _short_hash(text))
    reprs: list[Any] = []

    def shown(obj: Any) -> Any:
        reprs.append(obj)
        return {"__repr__": printable(repr(obj)[:500])}

    text = _dumps_input(value, shown, where)
    hashed = text
    if reprs or checked is not ...:
        hashed = _dumps_input(value if checked is ... else checked, _type_only, where)
    return EntryInput(text, _short_hash(hashed))


def _plain_input(value: Any, where: str) -> str | None:
    """`value` as JSON with the shared encoder, or None when a part is not JSON (then the
    slower path shows it as its repr): the same text, without an encoder per call."""
    try:
        text = _encode(value)
    except TypeError:
        return None
    except ValueError as exc:
        raise SerializationError(f"{where}: {exc}; pass finite numbers") from exc
    return _checked(text, where)


def _dumps_input(value: Any, default: Any, where: str) -> str:
    try:
        text = json.dumps(
            value, default=default, allow_nan=False, separators=(",", ":"), ensure_ascii=False
        )
    except ValueError as exc:
        raise SerializationError(f"{where}: {exc}; pass finite numbers") from exc
    return _checked(text, where)


def _type_only(obj: Any) -> Any:
    return {"__type__": f"{type(obj).__module__}.{type(obj).__qualname__}"}


def _short_hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def printable(text: str) -> str:
    """`text` with NUL and lone surrogates escaped, so it can be stored (error messages)."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    if not text.isascii() and _SURROGATE.search(text):
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _type_name(value: Any, exc: Exception) -> str:
    match = re.search(r"Object of type (\w+)", str(exc))
    if match:
        return match.group(1)
    return type(value).__name__


def error_to_dict(exc: BaseException) -> dict[str, Any]:
    """Everything needed to show an error and to raise it again in another process: its
    type, args and JSON-serialisable attributes (text PostgreSQL cannot store escaped)."""
    cls = type(exc)
    message = printable(str(exc))
    args = list(exc.args)
    return {
        "type": f"{cls.__module__}.{cls.__qualname__}",
        "message": message,
        "args": args if _is_storable(args) else [message],
        "attrs": {
            name: value
            for name, value in vars(exc).items()
            if not name.startswith("__") and _is_storable(value)
        },
        "traceback": printable("".join(traceback_module.format_exception(exc))),
    }


def _is_storable(value: Any) -> bool:
    try:
        dumps(value, where="error")
    except SerializationError:
        return False
    return True


def error_from_dict(error: dict[str, Any], *, from_file: bool = False) -> BaseException:
    """Rebuild the recorded exception as its own class, without calling its `__init__`
    (whose parameters may differ from `args`, e.g. `PaymentDeclined(order, *, reason)`),
    so `except PaymentDeclined:` catches it on replay as on the first run. A record an import
    brought (`from_file`) keeps its class only within the safe set (durable.core._error_types)."""
    error = error if isinstance(error, dict) else {}
    error_type, message = str(error.get("type", "")), str(error.get("message", ""))
    args = error.get("args", [message])
    cls = error_types.safe_exception_class(error_type, from_file=from_file)
    exc = (
        None if cls is None else _rebuild(cls, args if isinstance(args, list) else [message], error)
    )
    if exc is None:
        return WorkflowError(
            f"{error_type}: {message}", error_type=error_type, traceback=_traceback(error)
        )
    exc.__notes__ = ["recorded traceback:\n" + _traceback(error)]
    return exc


def _rebuild(cls: type[BaseException], args: list, error: dict[str, Any]) -> BaseException | None:
    try:
        exc = cls.__new__(cls, *args)
        exc.args = tuple(args)
        exc.__dict__.update(_attributes(error.get("attrs")))
        str(exc)  # a __str__ that needs what __init__ would have set: use the constructor
    except Exception:  # noqa: BLE001 - any mismatch falls back to the constructor
        try:
            return cls(*args)
        except Exception:  # noqa: BLE001 - and then to WorkflowError
            return None
    return exc


def _traceback(error: dict[str, Any]) -> str:
    return str(error.get("traceback", ""))


def _attributes(attrs: Any) -> dict[str, Any]:
    """Recorded attributes to set again; never a dunder name (a record is only data)."""
    if not isinstance(attrs, dict):
        return {}
    return {k: v for k, v in attrs.items() if isinstance(k, str) and not k.startswith("__")}


def fingerprint(error_type: str, message: str) -> str:
    """Group errors that differ only in their data
    (`durable.core._fingerprints.normalize`)."""
    normalized = normalize(message)
    return hashlib.sha1(f"{error_type}|{normalized}".encode()).hexdigest()[:16]
