"""The physical floor: what one single-row INSERT + COMMIT costs on this database.

Every Durable checkpoint is one such commit, so this is the line step overhead is measured
against. Measured with raw psycopg (the floor) and through Django's connection (the path
the engine's SQL takes), from one connection and from several at once.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from django.db import connection

from bench import db
from bench.progress import Progress
from bench.stats import summarize_ms
from bench.timing import in_threads

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS bench_floor (
    id bigserial PRIMARY KEY,
    run_id text NOT NULL,
    position integer NOT NULL,
    output jsonb,
    created_at timestamptz NOT NULL DEFAULT now())
"""

INSERT_ROW = """
INSERT INTO bench_floor (run_id, position, output) VALUES (%(run_id)s, %(position)s, %(output)s)
"""


def prepare() -> None:
    with db.connect() as conn:
        conn.execute(CREATE_TABLE)
        conn.execute("TRUNCATE bench_floor")


def _timed_inserts(
    execute: Callable[[dict[str, Any]], Any], count: int, run_id: str, bar: Progress
) -> list[float]:
    """`count` single-row INSERTs in autocommit, each its own transaction; their durations."""
    durations = []
    for position in range(count):
        params = {"run_id": run_id, "position": position, "output": "null"}
        started = time.perf_counter()
        execute(params)
        durations.append(time.perf_counter() - started)
        bar.advance()
    return durations


def raw_insert(connections: int, per_connection: int) -> dict[str, Any]:
    """INSERT+COMMIT from `connections` threads at once: latency per row and rows/s overall."""
    lists: list[list[float]] = [[] for _ in range(connections)]
    conns = [db.connect() for _ in range(connections)]
    try:
        label = f"floor: INSERT+COMMIT x{connections} conn"
        with Progress(label, connections * per_connection) as bar:

            def insert(index: int) -> None:
                execute = functools.partial(conns[index].execute, INSERT_ROW)
                lists[index] = _timed_inserts(execute, per_connection, f"c{index}", bar)

            elapsed = in_threads(connections, insert)
    finally:
        for conn in conns:
            conn.close()
    samples = [duration for durations in lists for duration in durations]
    return {
        **summarize_ms(samples),
        "connections": connections,
        "rows_per_s": len(samples) / elapsed,
    }


def django_insert(count: int) -> dict[str, Any]:
    """The same INSERT through Django's cursor (autocommit), as the engine's store runs it."""

    def execute(params: dict[str, Any]) -> None:
        with connection.cursor() as cursor:
            cursor.execute(INSERT_ROW, params)

    execute({"run_id": "django", "position": -1, "output": "null"})
    with Progress("floor: INSERT via Django cursor", count) as bar:
        started = time.perf_counter()
        samples = _timed_inserts(execute, count, "django", bar)
        elapsed = time.perf_counter() - started
    return {**summarize_ms(samples), "connections": 1, "rows_per_s": count / elapsed}


def measure(single: int, per_connection: int, connections: int = 8) -> dict[str, Any]:
    prepare()
    return {
        "single": raw_insert(1, single),
        "multi": raw_insert(connections, per_connection),
        "django": django_insert(single),
    }
