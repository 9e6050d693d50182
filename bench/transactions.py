"""Database transactions per workflow, counted by PostgreSQL: load does not move it.

Every autocommit statement is a transaction, so `pg_stat_database.xact_commit` over N runs
counts the round trips one run costs (writes and reads: the insert, a claim, checkpoints,
the finish, result()'s reads of the row). Backends flush those counters when idle for ten
seconds at the latest, so each reading waits STATS_FLUSH; the executor's own background
(heartbeats, lease renewals, polls), measured over an idle interval just before, is taken
off pro rata.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.db import connection

STATS_FLUSH = 11.0

XACT_COMMIT = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"


def _commits() -> int:
    time.sleep(STATS_FLUSH)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(XACT_COMMIT)
        return int(cursor.fetchone()[0])


def per_run(run: Callable[[], Any], count: int) -> dict[str, float]:
    """Transactions per `run()` over `count` runs, and the background's rate per second."""
    idle = _commits()
    started = _commits()  # each reading is itself two transactions
    background = (started - idle - 2) / STATS_FLUSH
    began = time.monotonic()
    for _ in range(count):
        run()
    seconds = time.monotonic() - began
    ended = _commits()
    ours = ended - started - 2 - background * (seconds + STATS_FLUSH)
    return {"per_run": ours / count, "runs": count, "background_per_s": background}
