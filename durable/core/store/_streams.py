"""SQL of streams: values a run appends to a named stream, read in order by offset.

Same conventions as `durable.core.store`: one named statement per operation, one round trip
each, on Django's connection (a write from a `@durable.transaction` step commits with it).
Every statement is served by the primary key (run_id, key, "offset").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from durable.core.store._execute import execute

APPEND = """
-- stream_append --
-- Append after the stream's last entry (found by the primary key, backwards), unless that
-- entry closed it. No row back: the stream is closed, or a concurrent writer took the
-- offset (the primary key decides; the caller looks again)
INSERT INTO durable_streamentry
    (run_id, key, "offset", value, closed, position, attempt, created_at)
SELECT %(run_id)s, %(key)s, coalesce(last."offset" + 1, 0), %(value)s::json, %(closed)s,
       %(position)s, %(attempt)s, now()
FROM (SELECT 1) one
LEFT JOIN LATERAL (
    SELECT "offset", closed FROM durable_streamentry
    WHERE run_id = %(run_id)s AND key = %(key)s ORDER BY "offset" DESC LIMIT 1) last ON true
WHERE last.closed IS NOT TRUE
ON CONFLICT DO NOTHING
RETURNING "offset"
"""

IS_CLOSED = """
-- stream_is_closed --
SELECT closed FROM durable_streamentry
WHERE run_id = %(run_id)s AND key = %(key)s ORDER BY "offset" DESC LIMIT 1
"""


def append(
    run_id: str, key: str, value: str | None, *, closed: bool, position: int, attempt: int
) -> int | None:
    """The new entry's offset; None if the stream is closed (or a writer raced: retry)."""
    params = {"run_id": run_id, "key": key, "value": value, "closed": closed,
              "position": position, "attempt": attempt}  # fmt: skip
    rows = execute(APPEND, params)
    return rows[0][0] if rows else None


def is_closed(run_id: str, key: str) -> bool:
    rows = execute(IS_CLOSED, {"run_id": run_id, "key": key})
    return bool(rows and rows[0][0])


READ = """
-- stream_read --
-- The run's status and the stream's entries after `after`, in one snapshot: a run seen
-- ended has every entry it wrote visible in the same read. No row: no such run
SELECT r.status, s."offset", s.value, s.closed, s.position, s.attempt
FROM durable_run r
LEFT JOIN LATERAL (
    SELECT "offset", value, closed, position, attempt FROM durable_streamentry
    WHERE run_id = r.id AND key = %(key)s AND "offset" > %(after)s
    ORDER BY "offset" LIMIT %(limit)s) s ON true
WHERE r.id = %(run_id)s
ORDER BY s."offset"
"""


@dataclass(frozen=True)
class Entry:
    offset: int
    value: Any
    closed: bool
    position: int
    attempt: int


def read(run_id: str, key: str, after: int, limit: int) -> tuple[str, list[Entry]] | None:
    """(run status, entries after `after`, at most `limit`); None if there is no such run."""
    rows = execute(READ, {"run_id": run_id, "key": key, "after": after, "limit": limit})
    if not rows:
        return None
    entries = [Entry(*row[1:]) for row in rows if row[1] is not None]
    return rows[0][0], entries


COPY_FOR_FORK = """
-- stream_copy_for_fork --
-- A fork inherits the stream entries its copied checkpoints wrote (position before the
-- fork point), numbered again from 0 so its streams have no gaps
INSERT INTO durable_streamentry
    (run_id, key, "offset", value, closed, position, attempt, created_at)
SELECT %(new_id)s, key, row_number() OVER (PARTITION BY key ORDER BY "offset") - 1, value,
       closed, position, attempt, created_at
FROM durable_streamentry WHERE run_id = %(origin_id)s AND position < %(from_step)s
"""


def copy_for_fork(origin_id: str, new_id: str, from_step: int) -> None:
    execute(COPY_FOR_FORK, {"origin_id": origin_id, "new_id": new_id, "from_step": from_step})
