"""Keeping the log records a step attempt emits, with the run (DURABLE_STEP_LOGS*).

A handler on the root logger adds each record emitted while an attempt runs (in its thread,
or its timeout helper: the buffer travels in a context variable) to that attempt's buffer,
bounded by count and bytes. The records travel in the statement that ends the attempt (its
checkpoint, or its failed-attempt row: `Buffer.pending`), so a step that logs costs no
extra round trip; what no such statement carried (an interrupted attempt, a printed line
without its newline, flushed at the end) is written alone when the attempt ends. An attempt
that logged nothing costs a context variable and an empty buffer.
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
    # how much of it a statement that ended the attempt carried, and what `pending` offered
    carried: tuple[int, int] = (0, 0)  # (records, dropped)
    offered: tuple[int, int] = (0, 0)

    def pending(self) -> tuple[str | None, int]:
        """(the records not yet carried, as JSON; dropped since) for the statement that ends
        the attempt, or (None, 0) when there are none. Call `kept()` once it wrote."""
        print_capture.flush(self)  # the body has ended: a last unfinished line goes too
        records, dropped = self.carried
        self.offered = (len(self.records), self.dropped)
        if self.offered == self.carried:
            return None, 0
        return json.dumps(self.records[records:]), self.dropped - dropped

    def kept(self) -> None:
        self.carried = self.offered

    def unkept(self) -> None:
        """The statement that carried them was rolled back (a transaction step reruns)."""
        self.carried = (0, 0)

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


class capture:  # noqa: N801 - used as a function: `with step_logs.capture(...) as buffer`
    """Keep the attempt's records (the buffer is what `with` gives, None when step logs are
    off); what no statement carried is written alone when it ends, however it ends. A class,
    not a generator, because it wraps every step attempt."""

    __slots__ = ("run_id", "position", "attempt", "buffer", "token")

    def __init__(self, run_id: str, position: int, attempt: int) -> None:
        self.run_id, self.position, self.attempt = run_id, position, attempt

    def __enter__(self) -> Buffer | None:
        self.buffer, self.token = begin()
        return self.buffer

    def __exit__(self, *exc_info: object) -> None:
        end(self.buffer, self.token)
        keep(self.run_id, self.position, self.attempt, self.buffer)


def begin() -> tuple[Buffer | None, contextvars.Token | None]:
    """Start buffering this thread's (or task's) records; (None, None) when logs are off.
    An async step calls begin/end around its awaited body and `keep` on the run thread."""
    if not settings.DURABLE_STEP_LOGS:
        return None, None
    if _handler is None or _handler not in logging.root.handlers:
        _install()  # or again: a logging setup (Celery's worker, dictConfig) replaced it
    prints = bool(settings.DURABLE_STEP_LOGS_PRINT)
    if prints:
        print_capture.install(_buffer.get)
    buffer = Buffer(
        level=_level(settings.DURABLE_STEP_LOGS_LEVEL),
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
    """Write what no statement of the ended attempt carried, in one statement; nothing when
    there is none (the usual case: none logged, or the checkpoint carried them)."""
    if buffer is None:
        return
    records, dropped = buffer.carried
    if (len(buffer.records), buffer.dropped) != (records, dropped):
        _write(run_id, position, attempt, buffer.records[records:], buffer.dropped - dropped)


def _write(
    run_id: str, position: int, attempt: int, records: list[dict[str, Any]], dropped: int
) -> None:
    """Lost log lines never fail the step or the run."""
    try:
        store.record_step_logs(run_id, position, attempt, records, dropped)
    except Exception as exc:
        logger.warning("run %s step %d attempt %d: %d log record(s) not kept (%s)",
                       run_id, position, attempt, len(records), exc)  # fmt: skip


@functools.lru_cache(maxsize=16)
def _level(name: Any) -> int:
    """DURABLE_STEP_LOGS_LEVEL as a number (parsed once per value, not per attempt)."""
    return logging.getLevelName(str(name).upper())


def _install() -> None:
    global _handler
    with _installed:
        if _handler is None:
            _handler = StepLogHandler()
        logging.root.addHandler(_handler)  # adds it only where it is not already
