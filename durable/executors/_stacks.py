"""Answering live stack requests from the lifeline's heartbeat (no port, no broker feature).

Each heartbeat with runs in flight asks, on the lifeline's own connection, for unanswered
requests about those runs (one indexed query; none when nothing runs here), captures the
Python stack of each run's thread from `sys._current_frames()` and writes the answer.
"""

from __future__ import annotations

import array
import collections
import datetime
import decimal
import itertools
import json
import linecache
import reprlib
import sys
import threading
import types
from collections.abc import Callable
from types import FrameType
from typing import Any

from durable.core import store
from durable.core._redaction import REDACTED, is_secret
from durable.core.conf import settings

# innermost frames kept per thread (a deep recursion would otherwise fill the answer)
MAX_FRAMES = 100

# run id -> (thread executing it, whether it was abandoned hung)
ThreadsOf = Callable[[], dict[str, list[tuple[threading.Thread, bool]]]]


class StackAnswerer:
    """Called by the lifeline after each heartbeat, with its connection."""

    def __init__(self, executor_id: str, threads_of: ThreadsOf) -> None:
        self.executor_id = executor_id
        self.threads_of = threads_of

    def answer(self, execute: Callable[[str, dict[str, Any]], list[tuple[Any, ...]]]) -> None:
        threads = self.threads_of()
        if not threads:
            return
        pending = execute(store.PENDING_STACK_REQUESTS, {"run_ids": list(threads)})
        for request_id, run_id, include_locals in pending:
            answer = {
                "threads": [
                    capture(thread, hung, include_locals) for thread, hung in threads[run_id]
                ]
            }
            params = {
                "id": request_id,
                "answer": json.dumps(answer),
                "executor_id": self.executor_id,
            }
            execute(store.ANSWER_STACK, params)


def capture(thread: threading.Thread, hung: bool, include_locals: bool) -> dict[str, Any]:
    """The thread's stack now, outermost frame first (as a traceback reads)."""
    frame = sys._current_frames().get(thread.ident or -1)
    frames: list[dict[str, Any]] = []
    omitted = 0
    while frame is not None:
        if len(frames) < MAX_FRAMES:
            frames.append(_describe(frame, include_locals))
        else:
            omitted += 1
        frame = frame.f_back
    frames.reverse()
    return {"thread": thread.name, "hung": hung, "alive": thread.is_alive(), "frames": frames,
            "omitted": omitted}  # fmt: skip


def _describe(frame: FrameType, include_locals: bool) -> dict[str, Any]:
    code = frame.f_code
    described: dict[str, Any] = {
        "file": code.co_filename,
        "line": frame.f_lineno,
        "function": code.co_name,
        "source": linecache.getline(code.co_filename, frame.f_lineno, frame.f_globals).strip(),
    }
    if include_locals:
        described["locals"] = bounded_locals(frame.f_locals)
    return described


def bounded_locals(variables: dict[str, Any]) -> dict[str, str]:
    """At most DURABLE_STACK_MAX_LOCALS values, each at most DURABLE_STACK_MAX_REPR_CHARS
    characters; names and dict keys matching DURABLE_STACK_REDACT show as "<redacted>"."""
    limit, width = settings.DURABLE_STACK_MAX_LOCALS, settings.DURABLE_STACK_MAX_REPR_CHARS
    shown: dict[str, str] = {}
    for name, value in list(variables.items())[:limit]:
        shown[name] = REDACTED if is_secret(name) else _short_repr(value, width)
    return shown


def _short_repr(value: Any, width: int) -> str:
    try:
        text = SafeRepr(width).repr(value)
    except Exception as exc:  # a broken repr must not lose the whole answer
        text = f"<repr failed: {type(exc).__name__}>"
    return text if len(text) <= width else text[: width - 1] + "…"


class SafeRepr(reprlib.Repr):
    """reprlib's bounds (a few items per container, a few levels deep) that never run the
    program's code: this runs on the heartbeat thread, where a `__repr__` that blocks, queries
    the database (a QuerySet) or builds megabytes would cost the executor its leases. Values of
    other types show as `<module.Class object>`."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.maxlevel = 4
        self.maxdict = self.maxlist = self.maxtuple = self.maxset = 8
        self.maxfrozenset = self.maxdeque = self.maxarray = 8
        self.maxlong = self.maxstring = self.maxother = width

    def repr1(self, x: Any, level: int) -> str:
        """Dispatch on the exact type: a class that merely calls itself `dict` is not one."""
        kind = type(x)
        if kind in DISPATCHED:
            return getattr(self, f"repr_{kind.__name__}")(x, level)
        return self.repr_instance(x, level)

    def repr_str(self, value: str, level: int) -> str:
        return repr(value[: self.maxstring + 1])  # cut to the width by _short_repr

    def repr_bytes(self, value: bytes, level: int) -> str:
        return repr(value[: self.maxstring + 1])  # the whole repr of 20 MB is 20-80 MB

    def repr_bytearray(self, value: bytearray, level: int) -> str:
        return repr(value[: self.maxstring + 1])

    def repr_dict(self, value: dict, level: int) -> str:
        if not value:
            return "{}"
        if level <= 0:
            return "{...}"
        pieces = [
            f"{self.repr1(key, level - 1)}: "
            + (REDACTED if is_secret(key) else self.repr1(item, level - 1))
            for key, item in itertools.islice(value.items(), self.maxdict)
        ]
        more = ", ..." if len(value) > self.maxdict else ""
        return "{" + ", ".join(pieces) + more + "}"

    def repr_instance(self, value: Any, level: int) -> str:
        kind = type(value)
        if kind in SAFE_TYPES:
            return reprlib.Repr.repr_instance(self, value, level)
        return f"<{kind.__module__}.{kind.__qualname__} object>"


# the exact types reprlib bounds itself (by their name)
DISPATCHED: frozenset[type] = frozenset(
    {str, bytes, bytearray, int, tuple, list, array.array, set, frozenset, collections.deque,
     dict}
)  # fmt: skip

# types whose repr is the interpreter's own, small and side-effect free
SAFE_TYPES: frozenset[type] = frozenset({
    bool, float, complex, type(None), range, slice, type(...),
    datetime.date, datetime.datetime, datetime.time, datetime.timedelta, decimal.Decimal,
    types.FunctionType, types.BuiltinFunctionType, types.ModuleType, type,
})  # fmt: skip
