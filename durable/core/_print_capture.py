"""`print` inside a step, kept with its attempt's log records when DURABLE_STEP_LOGS_PRINT
is on (off by default: stdout is the program's, and wrapping it is a choice).

`sys.stdout` is wrapped once by a tee that still writes everything to the stream it wraps;
a line written while an attempt's buffer is active (in that thread or task) is also added to
that buffer, as a record of the `print` logger at INFO, under the same bounds as log records.
"""

from __future__ import annotations

import contextvars
import io
import logging
import sys
from collections.abc import Callable
from typing import Any, Protocol

_forwarding: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "durable_print_forwarding", default=False
)


class LineSink(Protocol):
    prints: bool  # DURABLE_STEP_LOGS_PRINT when the attempt began
    partial_line: str

    def add(self, record: logging.LogRecord) -> None: ...


class Tee(io.TextIOBase):
    """Everything goes to the wrapped stream; complete lines also go to the active buffer."""

    def __init__(self, stream: Any, current: Callable[[], LineSink | None]) -> None:
        self.stream = stream
        self.current = current

    def write(self, text: str) -> int:
        sink = self.current()
        if sink is None or not sink.prints:
            return self.stream.write(text)
        token = _forwarding.set(True)
        try:
            written = self.stream.write(text)
        finally:
            _forwarding.reset(token)
        *lines, sink.partial_line = (sink.partial_line + text).split("\n")
        for line in lines:
            _add(sink, line)
        return written

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, isatty… of the real stream
        return getattr(self.stream, name)


def forwarding() -> bool:
    """True while the tee hands printed text to the stream it wraps: a stream that logs it
    (a Celery worker's redirected stdout) must not have the line kept a second time."""
    return _forwarding.get()


def install(current: Callable[[], LineSink | None]) -> None:
    """Wrap sys.stdout unless it is wrapped already (a test runner may have replaced it)."""
    if not isinstance(sys.stdout, Tee):
        sys.stdout = Tee(sys.stdout, current)


def flush(sink: LineSink) -> None:
    """The attempt ended: a last line printed without a newline is kept too."""
    if sink.partial_line:
        _add(sink, sink.partial_line)
        sink.partial_line = ""


def _add(sink: LineSink, line: str) -> None:
    sink.add(logging.LogRecord("print", logging.INFO, "", 0, line, None, None))
