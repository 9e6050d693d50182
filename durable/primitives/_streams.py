"""Streams: a run appends values to a named stream; callers read them as they arrive.

For progress and LLM-token output. Each value gets the next offset of its stream (0, 1,
2, … with no gaps); `close_stream` appends a close marker, after which the stream takes no
more values.

Writes from the workflow body are entries in the run's history, written with the value in
one transaction: a replay (a resume, a recovery) returns the recorded offset and appends
nothing. Writes from a step are appended at once, each labelled with the step's position
and attempt; the values an attempt wrote before it failed stay (as in DBOS), and a retry's
values follow them, so a reader that must see one attempt's values only filters by
`attempt` (`stream_entries`), or the workflow writes from its body. Writes from a
`@durable.transaction` step commit with it: exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from durable.core import _clock as clock
from durable.core import _context as context
from durable.core import _history as history
from durable.core import _runtime as runtime
from durable.core import _validation as validation
from durable.core._context import RunContext
from durable.core._serialization import dumps, entry_input
from durable.core._validation import validate_run_id
from durable.core.conf import settings
from durable.core.store import _streams as store_streams
from durable.errors import (
    DurableError,
    InvalidArgumentError,
    RunNotFoundError,
    StreamClosedError,
    StreamTimeoutError,
)

ENDED = ("SUCCESS", "ERROR", "CANCELLED", "DEAD")
PAGE = 500
RACE_ATTEMPTS = 20  # concurrent writers to one stream: each lost race takes the next offset


@context.plain_in_async_steps
def write_stream(key: str, value: Any) -> int:
    """Inside a workflow or its steps: append `value` to the run's stream `key`; returns
    its offset. Raises StreamClosedError once the stream is closed."""
    run_context = _require_run("write_stream")
    validation.text("key", key, optional=False)
    payload = dumps(value, where=f"workflow {run_context.workflow.name} stream {key!r}")
    return _write(run_context, "durable.write_stream", key, payload, closed=False)


@context.plain_in_async_steps
def close_stream(key: str) -> None:
    """Inside a workflow or its steps: close the run's stream `key`; readers end after its
    last value. Closing a closed stream does nothing."""
    run_context = _require_run("close_stream")
    validation.text("key", key, optional=False)
    _write(run_context, "durable.close_stream", key, None, closed=True)


def _write(run_context: RunContext, name: str, key: str, payload: str | None, closed: bool) -> int:
    if run_context.in_step:
        step = context.current_step.get()
        assert step is not None  # a step sets its tags before its body runs
        return _append(run_context, key, payload, closed, step.position, step.attempt)
    detail = entry_input({"key": key}, where=name)

    def append_and_record(position: int) -> int:
        started_at = clock.now()

        def body() -> int:
            offset = _append(run_context, key, payload, closed, position, 0)
            output = dumps({"offset": offset}, where=name)
            runtime.record_entry(
                run_context, position, name, "stream", output, started_at, step_input=detail
            )
            return offset

        return runtime.record_atomically(
            run_context, position, body, lambda recorded: recorded.output["offset"]
        )

    return history.replay_or_run(
        run_context, name, detail, append_and_record, lambda recorded: recorded.output["offset"]
    )


def _append(
    run_context: RunContext,
    key: str,
    payload: str | None,
    closed: bool,
    position: int,
    attempt: int,
) -> int:
    for _ in range(RACE_ATTEMPTS):
        offset = store_streams.append(
            run_context.run_id, key, payload, closed=closed, position=position, attempt=attempt
        )
        if offset is not None:
            return offset
        if store_streams.is_closed(run_context.run_id, key):
            if closed:
                return -1  # already closed: closing again does nothing
            raise StreamClosedError(
                f"run {run_context.run_id}: stream {key!r} is closed, it takes no more "
                "values; close a stream once, after its last write (e.g. in the workflow "
                "body, after the step that writes it)"
            )
    raise DurableError(  # only if writers keep racing for the same offsets
        f"run {run_context.run_id}: could not append to stream {key!r} after "
        f"{RACE_ATTEMPTS} concurrent writes took its next offset; retry the write"
    )


@dataclass(frozen=True)
class StreamSlice:
    """What a polling reader gets: the entries after its offset, and whether more may come."""

    entries: list[store_streams.Entry]
    closed: bool  # the stream was closed: no value will follow these
    run_ended: bool  # the run has ended: none will follow unless it is resumed

    @property
    def values(self) -> list[Any]:
        return [entry.value for entry in self.entries]

    @property
    def last_offset(self) -> int | None:
        return self.entries[-1].offset if self.entries else None

    @property
    def done(self) -> bool:
        return self.closed or self.run_ended


@context.plain_in_async_steps
def stream_entries(run_id: str, key: str, after: int = -1, limit: int = PAGE) -> StreamSlice:
    """The values of run `run_id`'s stream `key` after offset `after`, at once (no waiting):
    for polling UIs, which pass the last offset they got as the next `after`."""
    validate_run_id(run_id)
    validation.text("key", key, optional=False)
    _check_offset(after)
    read = store_streams.read(run_id, key, after, limit)
    if read is None:
        raise RunNotFoundError(f"no run with id {run_id!r}")
    status, entries = read
    closed = bool(entries) and entries[-1].closed
    values = [entry for entry in entries if not entry.closed]
    return StreamSlice(values, closed, status in ENDED and len(entries) < limit)


def read_stream(
    run_id: str, key: str, *, after: int = -1, timeout: float | None = 60.0
) -> Iterator[Any]:
    """Yield the values of run `run_id`'s stream `key` as they arrive (those after offset
    `after`); ends when the stream is closed or the run ends. Raises StreamTimeoutError
    when no value comes for `timeout` seconds (None: wait as long as it takes)."""
    return _follow(run_id, key, Follower(checked_reader(run_id, key, after, timeout)))


@dataclass(frozen=True)
class Reader:
    """A checked request to follow a stream (`checked_reader`)."""

    run_id: str
    key: str
    after: int
    timeout: float | None


def checked_reader(run_id: str, key: str, after: int, timeout: float | None) -> Reader:
    """The arguments of `read_stream` (and its async twin), refused in a workflow body."""
    run_context = context.current()
    if run_context is not None and not run_context.in_step:
        raise DurableError(
            "durable.read_stream() cannot run in a workflow body: what it reads depends on "
            "timing, so a replay would differ; read the stream inside a step"
        )
    validate_run_id(run_id)
    validation.text("key", key, optional=False)
    _check_offset(after)
    validation.timeout(timeout)
    return Reader(run_id, key, after, timeout)


class Follower:
    """Where a reader is in its stream and how long it pauses between looks (from 10 ms,
    doubling, to DURABLE_STREAM_POLL_SECONDS): the sync and the async reader share it."""

    def __init__(self, reader: Reader) -> None:
        self.reader, self.after = reader, reader.after
        self.idle_since, self.pause = time.monotonic(), 0.01

    def take(self, page: StreamSlice) -> list[Any]:
        """The page's values, moving past them."""
        if page.entries:
            self.after = page.entries[-1].offset
            self.idle_since, self.pause = time.monotonic(), 0.01
        return page.values

    def pause_after(self, page: StreamSlice) -> float | None:
        """Seconds to wait before the next look (0 after a full page); None at the end.
        Raises StreamTimeoutError when no value came for the reader's timeout."""
        if page.done:
            return None
        if page.entries:
            return 0.0
        timeout = self.reader.timeout
        if timeout is not None and time.monotonic() - self.idle_since >= timeout:
            raise StreamTimeoutError(
                f"run {self.reader.run_id} stream {self.reader.key!r}: no new value for "
                f"{timeout}s (last offset {self.after}); read again with after={self.after} "
                "to go on, or wait longer"
            )
        pause = self.pause
        self.pause = min(pause * 2, settings.DURABLE_STREAM_POLL_SECONDS)
        return pause


def _follow(run_id: str, key: str, follower: Follower) -> Iterator[Any]:
    while True:
        page = stream_entries(run_id, key, follower.after)
        yield from follower.take(page)
        pause = follower.pause_after(page)
        if pause is None:
            return
        time.sleep(pause)


def _check_offset(after: Any) -> None:
    if not isinstance(after, int) or isinstance(after, bool) or after < -1:
        raise InvalidArgumentError(
            "after", "must be an offset (an int, -1 for the start of the stream)"
        )


def _require_run(what: str) -> RunContext:
    run_context = context.current()
    if run_context is None:
        raise DurableError(
            f"durable.{what}() works only inside a workflow or its steps: a stream belongs "
            "to the run that writes it; read one from anywhere with durable.read_stream()"
        )
    return run_context
