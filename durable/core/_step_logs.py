"""Keeping the log records a step attempt emits, with the run (DURABLE_STEP_LOGS*).

A handler on the root logger adds each record emitted while an attempt runs (in its thread,
or its timeout helper: the buffer travels in a context variable) to that attempt's buffer,
bounded by count and bytes. When the attempt ends, a non-empty buffer is written in one
statement; an attempt that logged nothing costs no statement at all.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from durable.core import _print_capture as print_capture
from durable.core import _redaction as redaction
from durable.core import store
from durable.core.conf import settings

logger = logging.getLogger("durable")

_buffer: contextvars.ContextVar[Buffer | None] = contextvars.ContextVar(
    "durable_step_logs", default=None
)
_installed = threading.Lock()
_handler: StepLogHandler | None = None


@dataclass
class Buffer:
    level: int
    max_records: int
    max_bytes: int
    records: list[dict[str, Any]] = field(default_factory=list)
    size: int = 0
    dropped: int = 0
    prints: bool = False  # keep printed lines too (DURABLE_STEP_LOGS_PRINT)
    partial_line: str = ""  # printed text after the last newline (DURABLE_STEP_LOGS_PRINT)

    def add(self, record: logging.LogRecord) -> None:
        if record.levelno < self.level:
            return
        if len(self.records) >= self.max_records:  # before formatting: a loop pays nothing
            self.dropped += 1
            return
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            message = f"{message}\n{record.exc_text}"
        message = redaction.redact_message(message)
        if self.size + len(message) > self.max_bytes:
            self.dropped += 1
            return
        self.size += len(message)
        self.records.append({
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        })  # fmt: skip


class StepLogHandler(logging.Handler):
    """Adds records to the running attempt's buffer; elsewhere it does nothing."""

    def emit(self, record: logging.LogRecord) -> None:
        buffer = _buffer.get()
        if (
            buffer is not None
            and not record.name.startswith("durable")
            and not print_capture.forwarding()
        ):
            buffer.add(record)


@contextmanager
def capture(run_id: str, position: int, attempt: int) -> Iterator[None]:
    """Keep the attempt's records; write them (if any) when it ends, however it ends."""
    buffer, token = begin()
    try:
        yield
    finally:
        end(buffer, token)
        keep(run_id, position, attempt, buffer)


def begin() -> tuple[Buffer | None, contextvars.Token | None]:
    """Start buffering this thread's (or task's) records; (None, None) when logs are off.
    An async step calls begin/end around its awaited body and `keep` on the run thread."""
    if not settings.DURABLE_STEP_LOGS:
        return None, None
    _install()
    prints = bool(settings.DURABLE_STEP_LOGS_PRINT)
    if prints:
        print_capture.install(_buffer.get)
    buffer = Buffer(
        level=logging.getLevelName(str(settings.DURABLE_STEP_LOGS_LEVEL).upper()),
        max_records=settings.DURABLE_STEP_LOGS_MAX_RECORDS,
        max_bytes=settings.DURABLE_STEP_LOGS_MAX_BYTES,
        prints=prints,
    )
    return buffer, _buffer.set(buffer)


def end(buffer: Buffer | None, token: contextvars.Token | None) -> None:
    if buffer is not None and token is not None:
        _buffer.reset(token)
        print_capture.flush(buffer)


def keep(run_id: str, position: int, attempt: int, buffer: Buffer | None) -> None:
    """Write the ended attempt's records in one statement; nothing when it kept none."""
    if buffer is not None and (buffer.records or buffer.dropped):
        _write(run_id, position, attempt, buffer)


def _write(run_id: str, position: int, attempt: int, buffer: Buffer) -> None:
    """Lost log lines never fail the step or the run."""
    try:
        store.record_step_logs(run_id, position, attempt, buffer.records, buffer.dropped)
    except Exception as exc:
        logger.warning("run %s step %d attempt %d: %d log record(s) not kept (%s)",
                       run_id, position, attempt, len(buffer.records), exc)  # fmt: skip


def _install() -> None:
    global _handler
    if _handler is not None:
        return
    with _installed:
        if _handler is None:
            _handler = StepLogHandler()
            logging.getLogger().addHandler(_handler)
