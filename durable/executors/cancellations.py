"""Hearing of cancels at once: PostgreSQL NOTIFY from the cancel, LISTEN in each executor.

A cancel notifies each cancelled run's id on CHANNEL when its transaction commits
(`lineage.cancel_trees` through `store.notify_cancelled`); every executor keeps one
listening connection and sets the cancelled event of the runs it executes, so a run stops
before its next step starts, without a read per step. Then it answers on
`store.CANCEL_ACK_CHANNEL`, which the cancel waits for
(`durable.operations._cancel_confirmation`):
once the event is set, no boundary check lets a step of that run start. A checkpoint
written after the cancel (`store.record_step` returns the run's status) and the lease
heartbeat are the fallbacks if a notification is missed. An operator's drain of an
executor comes on its own channel, DRAIN_CHANNEL (durable.core.store._channels), heard on the
same connection: a run id, whatever it holds, is never read as a drain. One notice that cannot
be handled is logged and skipped; it never costs the listener its connection (and the
notices queued behind it). The listener sleeps on its connection's socket and on a wake-up
socket of its own at once, so `stop` ends the wait at once instead of after a poll interval
(every executor shutdown, every test, every reload would otherwise wait for nothing).
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable

import psycopg

from durable.core import store
from durable.core.store import _db as db
from durable.core.store._channels import CANCEL_CHANNEL as CHANNEL
from durable.core.store._channels import (
    DRAIN_CHANNEL,
    LISTEN_CANCELS,
    LISTEN_DRAINS,
    parse_drain_notice,
)

logger = logging.getLogger("durable")

RECONNECT_SECONDS = 1.0
IDLE_CHECK_SECONDS = 5.0  # a wait re-checks the stop flag this often should a wake-up be lost


class CancelListener:
    """One thread that LISTENs for cancelled run ids and tells `on_cancel` (True: the run
    executes here and will start no further step, so the cancel is acknowledged as
    `executor_id`), and, given `on_drain`, for operators' drains."""

    def __init__(
        self,
        executor_id: str,
        on_cancel: Callable[[str], bool],
        on_drain: Callable[[str, bool, float | None], None] | None = None,
    ) -> None:
        self._executor_id = executor_id
        self._on_cancel = on_cancel
        self._on_drain = on_drain  # an operator's (un)drain (durable.operations._drain)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._wake_reader, self._wake_writer = socket.socketpair()  # `stop` writes a byte
        self._thread = threading.Thread(
            target=self._listen, name="durable-cancel-listener", daemon=True
        )

    def start(self, wait: float = 5.0) -> CancelListener:
        """Start listening; waits (briefly) until LISTEN is in place."""
        self._thread.start()
        self._ready.wait(wait)
        return self

    def stop(self) -> None:
        """Stop listening and return once the thread has closed its connection."""
        self._stop.set()
        with contextlib.suppress(OSError):  # stopped twice: the socket is closed already
            self._wake_writer.send(b"x")
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if not self._thread.is_alive():  # else the thread may still wait on them
            self._wake_writer.close()
            self._wake_reader.close()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with db.listening_connection() as listening:
                    listening.execute(LISTEN_CANCELS)
                    if self._on_drain is not None:
                        listening.execute(LISTEN_DRAINS)
                    self._ready.set()
                    self._hear(listening)
            except Exception as exc:
                if not self._stop.is_set():
                    logger.warning("cancel listener lost its connection (%s); reconnecting", exc)
                    self._stop.wait(RECONNECT_SECONDS)

    def _hear(self, listening: psycopg.Connection) -> None:
        """Each packet of notices is handled whole, then its cancels are acknowledged in one
        statement on the same connection (free again once `notifies` has returned). Between
        packets the thread sleeps until the connection or the wake-up socket has something."""
        with selectors.DefaultSelector() as readable:
            readable.register(listening.fileno(), selectors.EVENT_READ)
            readable.register(self._wake_reader, selectors.EVENT_READ)
            while not self._stop.is_set():
                if not self._hear_packet(listening):
                    readable.select(IDLE_CHECK_SECONDS)  # a notice, the end, or `stop`

    def _hear_packet(self, listening: psycopg.Connection) -> bool:
        """Handle the notices psycopg holds or can read now (timeout=0: no wait); False if
        there were none."""
        acknowledged = []
        heard = False
        for notice in listening.notifies(timeout=0):
            heard = True
            try:
                if self._handle(notice.channel, notice.payload):
                    acknowledged.append(notice.payload)
            except Exception as exc:  # the next notice must still be heard
                logger.warning("cancel listener ignored a malformed notice %r on %s (%s)",
                               notice.payload[:200], notice.channel, exc)  # fmt: skip
        if acknowledged:
            params = {"executor_id": self._executor_id, "run_ids": acknowledged}
            listening.execute(store.ACKNOWLEDGE_CANCELS, params)
        return heard

    def _handle(self, channel: str, payload: str) -> bool:
        if channel == DRAIN_CHANNEL and self._on_drain is not None:
            self._on_drain(*parse_drain_notice(payload))
        elif channel == CHANNEL:
            return self._on_cancel(payload)
        return False


class RecentIds:
    """Run ids noted lately, oldest first, each forgotten `seconds` after it was noted; not
    thread-safe (the executor's lock guards it). Pruned from the front, so a bulk cancel's
    thousands of notices cost one look each."""

    def __init__(self, seconds: float = 60.0) -> None:
        self._seconds = seconds
        self._noted: dict[str, float] = {}

    def note(self, run_id: str) -> None:
        now = time.monotonic()
        self._noted.pop(run_id, None)
        self._noted[run_id] = now
        while self._noted:
            oldest, noted_at = next(iter(self._noted.items()))
            if now - noted_at <= self._seconds:
                break
            del self._noted[oldest]

    def __contains__(self, run_id: str) -> bool:
        noted_at = self._noted.get(run_id)
        return noted_at is not None and time.monotonic() - noted_at <= self._seconds

    def pop_since(self, run_id: str, since: float) -> bool:
        """Forget `run_id`; True if it was noted at or after `since` (a monotonic time)."""
        return self._noted.pop(run_id, 0.0) >= since
