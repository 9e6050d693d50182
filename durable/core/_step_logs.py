"""Keeping the log records a step attempt emits, with the run (DURABLE_STEP_LOGS*).

A handler on the root logger adds each record emitted while an attempt runs (in its thread,
or its timeout helper: the buffer travels in a context variable) to that attempt's buffer,
bounded by count and bytes. The records travel in the statement that ends the attempt (its
checkpoint, or its failed-attempt row: `Buffer.pending`), so a step that logs costs no
extra round trip; only an attempt that ends without either (interrupted) writes them alone.
An attempt that logged nothing costs a context variable and an empty buffer.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

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
    written: bool = False  # the statement that ended the attempt carried the records

    def pending(self) -> tuple[str | None, int]:
        """(the records as JSON, dropped) for the statement that ends the attempt; (None, 0)
        when there is nothing to keep or it was already kept. Call `kept()` once written."""
        if self.written or not (self.records or self.dropped):
            return None, 0
        return json.dumps(self.records), self.dropped

    def kept(self) -> None:
        self.written = True

    def add(self, record: logging.LogRecord) -> None:
        if record.levelno < self.level:
            return
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            message = f"{message}\n{record.exc_text}"
        if len(self.records) >= self.max_records or self.size + len(message) > self.max_bytes:
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
        if buffer is not None and not record.name.startswith("durable"):
            buffer.add(record)


class capture:  # noqa: N801 - used as a function: `with step_logs.capture(...) as buffer`
    """Keep the attempt's records (the buffer is what `with` gives, None when step logs are
    off); records no statement carried are written alone when it ends, however it ends. A
    class, not a generator, because it wraps every step attempt."""

    __slots__ = ("run_id", "position", "attempt", "buffer", "token")

    def __init__(self, run_id: str, position: int, attempt: int) -> None:
        self.run_id, self.position, self.attempt = run_id, position, attempt
        self.buffer: Buffer | None = None

    def __enter__(self) -> Buffer | None:
        if not settings.DURABLE_STEP_LOGS:
            return None
        if _handler is None:
            _install()
        self.buffer = Buffer(
            level=_level(settings.DURABLE_STEP_LOGS_LEVEL),
            max_records=settings.DURABLE_STEP_LOGS_MAX_RECORDS,
            max_bytes=settings.DURABLE_STEP_LOGS_MAX_BYTES,
        )
        self.token = _buffer.set(self.buffer)
        return self.buffer

    def __exit__(self, *exc_info: object) -> None:
        buffer = self.buffer
        if buffer is None:
            return
        _buffer.reset(self.token)
        if not buffer.written and (buffer.records or buffer.dropped):
            _write(self.run_id, self.position, self.attempt, buffer)


@functools.lru_cache(maxsize=16)
def _level(name: Any) -> int:
    """DURABLE_STEP_LOGS_LEVEL as a number (parsed once per value, not per attempt)."""
    return logging.getLevelName(str(name).upper())


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
