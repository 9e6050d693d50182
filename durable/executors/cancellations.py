"""Hearing of cancels at once: PostgreSQL NOTIFY from the cancel, LISTEN in each executor.

A cancel notifies each cancelled run's id on CHANNEL when its transaction commits
(`lineage.cancel_trees` through `store.notify_cancelled`); every executor keeps one
listening connection and sets the cancelled event of the runs it executes, so a run stops
before its next step starts, without a read per step. The lease heartbeat remains the
fallback if a notification is missed. An operator's drain of an executor comes on its own
channel, DRAIN_CHANNEL (durable.core.store._channels), heard on the same connection: a run
id, whatever it holds, is never read as a drain. One notice that cannot be handled is logged and
skipped; it never costs the listener its connection (and the notices queued behind it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from django.db import connection

from durable.core.store._channels import CANCEL_CHANNEL as CHANNEL
from durable.core.store._channels import (
    DRAIN_CHANNEL,
    LISTEN_CANCELS,
    LISTEN_DRAINS,
    parse_drain_notice,
)

logger = logging.getLogger("durable")

RECONNECT_SECONDS = 1.0


class CancelListener:
    """One thread that LISTENs for cancelled run ids and sets their events (and, given
    `on_drain`, for operators' drains)."""

    def __init__(
        self,
        in_flight: Callable[[str], threading.Event | None],
        on_drain: Callable[[str, bool, float | None], None] | None = None,
    ) -> None:
        self._in_flight = in_flight
        self._on_drain = (
            on_drain  # an operator's (un)drain of an executor (durable.operations._drain)
        )
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(
            target=self._listen, name="durable-cancel-listener", daemon=True
        )

    def start(self, wait: float = 5.0) -> CancelListener:
        """Start listening; waits (briefly) until LISTEN is in place."""
        self._thread.start()
        self._ready.wait(wait)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(**_connection_params(), autocommit=True) as listening:
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
        while not self._stop.is_set():
            for notice in listening.notifies(timeout=0.5):
                try:
                    self._handle(notice.channel, notice.payload)
                except Exception as exc:  # the next notice must still be heard
                    logger.warning("cancel listener ignored a malformed notice %r on %s (%s)",
                                   notice.payload[:200], notice.channel, exc)  # fmt: skip

    def _handle(self, channel: str, payload: str) -> None:
        if channel == DRAIN_CHANNEL and self._on_drain is not None:
            self._on_drain(*parse_drain_notice(payload))
        elif channel == CHANNEL:
            cancelled = self._in_flight(payload)
            if cancelled is not None:
                cancelled.set()


def _connection_params() -> dict:
    """Django's own connection settings (database, host, user), without its cursor class."""
    params = connection.get_connection_params()
    for key in ("cursor_factory", "context", "prepare_threshold", "client_encoding"):
        params.pop(key, None)
    return params
