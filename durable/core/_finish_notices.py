"""Hearing runs end in other processes: one LISTEN connection per process that waits.

`store.finish_run` notifies FINISH_CHANNEL when the end commits (unless the run was claimed
in its insert: its waiter is in the executing process, told by `_endings`), and a cancel
notifies CANCEL_CHANNEL. The first `result()` that waits for a run executing elsewhere
starts this listener; each notice wakes that run's waiters here (`_endings.wake`), which
then read the row. Until the listener is ready, and whenever its connection is lost, the
waiters' bounded polls find the end instead. With nobody waiting for IDLE_SECONDS it
closes its connection and ends; the next wait starts it again.
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg

from durable.core import _endings as endings
from durable.core.store import _db as db
from durable.core.store._channels import LISTEN_CANCELS, LISTEN_FINISHES

logger = logging.getLogger("durable")

RECONNECT_SECONDS = 1.0
IDLE_SECONDS = 5.0
READY_WAIT = 0.1  # a first wait gives the listener this long to connect, then polls

_lock = threading.Lock()
_thread: threading.Thread | None = None
_ready = threading.Event()  # LISTEN is in place: a notice sent from now on is heard


def listening() -> bool:
    """Start the listener if it is not running; whether it hears notices now."""
    global _thread
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_listen, name="durable-finish-listener",
                                       daemon=True)  # fmt: skip
            _thread.start()
            return _ready.wait(READY_WAIT)
    return _ready.is_set()


def _listen() -> None:
    while True:
        try:
            with db.listening_connection() as connection:
                connection.execute(LISTEN_FINISHES)
                connection.execute(LISTEN_CANCELS)
                _ready.set()
                _hear(connection)
                return
        except Exception as exc:
            logger.warning("finish listener lost its connection (%s); reconnecting", exc)
        finally:
            _ready.clear()
        threading.Event().wait(RECONNECT_SECONDS)


def _hear(connection: psycopg.Connection) -> None:
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < IDLE_SECONDS:
        for notice in connection.notifies(timeout=1.0):
            endings.wake(notice.payload)
        if endings.watched():
            idle_since = time.monotonic()
