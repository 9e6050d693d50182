"""Answering live stack requests from the lifeline's heartbeat (no port, no broker feature).

Each heartbeat with runs in flight asks, on the lifeline's own connection, for unanswered
requests about those runs (one indexed query; none when nothing runs here), captures the
Python stack of each run's thread from `sys._current_frames()` and writes the answer.
"""

from __future__ import annotations

import json
import linecache
import re
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from durable.core import store
from durable.core.conf import settings

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
    while frame is not None:
        frames.append(_describe(frame, include_locals))
        frame = frame.f_back
    frames.reverse()
    return {"thread": thread.name, "hung": hung, "alive": thread.is_alive(), "frames": frames}


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
    """At most DURABLE_STACK_MAX_LOCALS reprs of DURABLE_STACK_MAX_REPR_CHARS characters;
    names containing a word of DURABLE_STACK_REDACT are never shown."""
    words = [re.escape(word) for word in settings.DURABLE_STACK_REDACT if word]
    redact = re.compile("|".join(words), re.IGNORECASE) if words else None
    limit, width = settings.DURABLE_STACK_MAX_LOCALS, settings.DURABLE_STACK_MAX_REPR_CHARS
    shown: dict[str, str] = {}
    for name, value in list(variables.items())[:limit]:
        shown[name] = "<redacted>" if redact and redact.search(name) else _short_repr(value, width)
    return shown


def _short_repr(value: Any, width: int) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not lose the whole answer
        text = f"<repr failed: {type(exc).__name__}>"
    return text if len(text) <= width else text[: width - 1] + "…"
