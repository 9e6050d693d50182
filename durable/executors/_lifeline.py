"""An executor's lifeline: a connection of its own that holds a session-level advisory lock
for as long as the process lives, and heartbeats every DURABLE_HEARTBEAT_SECONDS.

The lock lives in the server, not in Python: a step that holds the GIL cannot let it lapse,
and a process in another pid namespace holds it just the same. When the process dies its
socket closes and PostgreSQL ends the session at once, dropping the lock: other executors
see in `pg_locks` that the owner is gone (`store.RECOVER_ORPHANED`). A live process whose
lifeline connection drops takes the lock again at its next heartbeat, well within the
silence the verdict also asks for. A host lost without closing its sockets is noticed by
the server's TCP keepalives (about KEEPALIVE_VERDICT_SECONDS).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

import psycopg
from django.db import connection

from durable.core import store
from durable.executors._stacks import StackAnswerer

logger = logging.getLogger("durable")

# the server drops a session whose peer stops answering: idle 5 s, then 3 probes 2 s apart
SESSION_SETTINGS = (
    "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; "
    "SET tcp_keepalives_count = 3; SET statement_timeout = '5s'"
)
KEEPALIVE_VERDICT_SECONDS = 11


class Lifeline:
    """One per executor process (each prefork child has its own)."""

    def __init__(self, executor_id: str, every: float, stacks: StackAnswerer | None = None) -> None:
        self.executor_id = executor_id
        self.every = every
        self._stacks = stacks  # answers live stack requests after each heartbeat
        self._conn: psycopg.Connection[Any] | None = None
        self._locked = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="durable-lifeline", daemon=True)

    def start(self) -> Lifeline:
        """Take the lock before the executor claims its first run (a run claimed before it
        would look orphaned once its lease ran out), then beat in the background."""
        self._beat()
        self._thread.start()
        return self

    def holds(self) -> bool:
        """Whether the lifeline's connection is open (its lock then held, or being retaken)."""
        return self._conn is not None and not self._conn.closed

    def stop(self) -> None:
        """Closing the session drops the lock (a clean exit has released its runs first)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._close()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._beat()
        self._close()

    def _beat(self) -> None:
        """Heartbeat; a lost connection is opened again and the lock taken again at once."""
        for _ in range(2):
            try:
                if not self.holds():
                    self._connect()
                if not self._locked:
                    self._locked = self._execute(store.TAKE_LIFELINE)[0][0]
                self._execute(store.LIFELINE)
                self._answer_stacks()
                return
            except psycopg.OperationalError as exc:
                logger.warning("executor %s lifeline lost (%s); reconnecting",
                               self.executor_id, str(exc).strip().splitlines()[0])  # fmt: skip
                self._close()
            except psycopg.Error as exc:  # a slow statement: the lock is still held
                logger.warning("executor %s lifeline heartbeat failed (%s)", self.executor_id, exc)
                return

    def _answer_stacks(self) -> None:
        """A failed answer is logged, never allowed to stop the heartbeats."""
        if self._stacks is None:
            return
        try:
            self._stacks.answer(self._execute)
        except psycopg.OperationalError:
            raise
        except Exception:
            logger.exception("executor %s could not answer a live stack request", self.executor_id)

    def _connect(self) -> None:
        params = {**connection.get_connection_params(), "autocommit": True, "connect_timeout": 5}
        params["application_name"] = f"durable lifeline {self.executor_id}"[:63]
        self._conn = psycopg.connect(**params)
        self._conn.execute(SESSION_SETTINGS)
        # taken at the next step of _beat; until then (or while an older session of ours,
        # not yet ended by the server, still holds it) the heartbeats alone say we live
        self._locked = False

    def _execute(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        assert self._conn is not None
        with self._conn.cursor() as cursor:
            cursor.execute(sql, params if params is not None else {"executor_id": self.executor_id})
            return cursor.fetchall() if cursor.description else []

    def _close(self) -> None:
        conn, self._conn, self._locked = self._conn, None, False
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()
