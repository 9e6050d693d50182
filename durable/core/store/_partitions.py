"""SQL of the partitioned history (docs/partitioning.md): the checkpoint, attempt and step
log tables are partitioned by range of their run's creation time (`run_created_at`).

Partitions are made ahead by the executors' timed duty, in lockstep for the three tables
(same bounds, same names but the table's). The default partition catches a row no range
partition takes (the duty did not run for days, an imported run from long ago); the duty
moves such rows into a partition of their own. Retention drops a range's partitions whole,
in the transaction that deletes its runs, once every run created in the range is prunable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar, cast

from durable.core.store._db import atomic_retrying
from durable.core.store._execute import execute
from durable.core.store._trees import DELETE_DOOMED_RUNS, PRUNABLE

T = TypeVar("T")

HISTORY_TABLES = ("durable_step", "durable_attempt", "durable_steplog")

# DDL on a parent waits at most this long for its lock, so a long query on the history
# never queues the checkpoint writes behind the maintenance (it tries again next time)
LOCK_TIMEOUT = "2s"


@dataclass(frozen=True, order=True)
class Partition:
    """A range partition of every history table: rows with lower <= run_created_at < upper
    (None: unbounded)."""

    lower: datetime | None
    upper: datetime | None
    suffix: str  # the tables' partitions are named <table>_<suffix>

    def name(self, table: str) -> str:
        return f"{table}_{self.suffix}"


PARTITIONS = r"""
-- partitions --
-- The range partitions of a history table and their bounds (NULL: MINVALUE / MAXVALUE),
-- read from the catalog; the default partition is left out
SELECT c.relname,
       (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']*)''\)'))[1]::timestamptz,
       (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']*)''\)'))[1]::timestamptz
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = %(table)s::regclass
  AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
ORDER BY 2 NULLS FIRST
"""


def partitions(table: str = "durable_step") -> list[Partition]:
    """The range partitions of `table`, oldest first."""
    prefix = f"{table}_"
    return [
        Partition(lower, upper, name.removeprefix(prefix))
        for name, lower, upper in execute(PARTITIONS, {"table": table})
    ]


DEFAULT_ROW_DAYS = """
-- default_row_days --
-- The days (UTC) of the rows the default partitions hold: each needs a partition of its own
SELECT DISTINCT date_trunc('day', run_created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
FROM (SELECT run_created_at FROM durable_step_default
      UNION ALL SELECT run_created_at FROM durable_attempt_default
      UNION ALL SELECT run_created_at FROM durable_steplog_default) rows
ORDER BY 1
"""


def default_row_days() -> list[datetime]:
    return [row[0] for row in execute(DEFAULT_ROW_DAYS, {})]


DEFAULT_ROWS = """
-- default_rows --
-- How many rows the default partitions hold (0 unless the duty fell behind)
SELECT (SELECT count(*) FROM durable_step_default) + (SELECT count(*) FROM durable_attempt_default)
       + (SELECT count(*) FROM durable_steplog_default)
"""


def default_rows() -> int:
    return execute(DEFAULT_ROWS, {})[0][0]


# A partition is made as a table of its own and attached: readers of the parent go on
# (CREATE TABLE ... PARTITION OF would stop them too), and rows the default partition holds
# for the range move into it in the same transaction
NEW_PARTITION_TABLE = """
-- new_partition_table --
CREATE TABLE {partition} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
"""

MOVE_FROM_DEFAULT = """
-- move_from_default --
WITH moved AS (
    DELETE FROM {table}_default
    WHERE run_created_at >= %(lower)s AND run_created_at < %(upper)s
    RETURNING *
)
INSERT INTO {partition} SELECT * FROM moved
"""

ATTACH_PARTITION = """
-- attach_partition --
ALTER TABLE {table} ATTACH PARTITION {partition} FOR VALUES FROM (%(lower)s) TO (%(upper)s)
"""

# Writers wait while partitions are attached (a few milliseconds, once in a while): a
# checkpoint that had already looked at the partitions would otherwise route its row to the
# default partition just as the new partition takes that range from it. Readers go on...
HOLD_WRITES = """
-- hold_writes --
LOCK TABLE durable_step, durable_attempt, durable_steplog IN SHARE ROW EXCLUSIVE MODE
"""

# ... unless rows move out of the default partition: then readers wait too, or a read
# planned before the attach (a run's history, read with its claim) would look for them in
# the default partition after they left it, and miss them
HOLD_READS = """
-- hold_reads --
LOCK TABLE durable_step, durable_attempt, durable_steplog IN ACCESS EXCLUSIVE MODE
"""

MAINTENANCE_LOCK = """
-- maintenance_lock --
-- One executor at a time changes the partitions (the others wait their turn)
SELECT pg_advisory_xact_lock(hashtext('durable.partitions'))
"""


def maintaining(body: Callable[[], T], what: str) -> T:
    """Run `body` in a transaction that holds the partitions' maintenance lock: one
    executor at a time, the others wait their turn (at most LOCK_TIMEOUT, then fail and
    try again next time). `body` reads the partitions under the lock, so it may run again
    whole when its connection drops."""

    def locked() -> T:
        execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'", {})
        execute(MAINTENANCE_LOCK, {})
        return body()

    return atomic_retrying(locked, settle=lambda: (False, cast(T, None)), what=what)


def create_partitions(ranges: list[tuple[datetime, datetime]]) -> list[Partition]:
    """Create a partition of every history table for each [lower, upper) range; inside
    `maintaining`, so the ranges were read under its lock."""
    if not ranges:
        return []
    execute(HOLD_WRITES, {})
    if default_rows():  # rare: the duty fell behind, or an old run was imported
        execute(HOLD_READS, {})
    made = []
    for lower, upper in ranges:
        partition = Partition(lower, upper, f"p{lower:%Y%m%d}")
        bounds = {"lower": lower, "upper": upper}
        for table in HISTORY_TABLES:
            names = {"table": table, "partition": partition.name(table)}
            for statement in (NEW_PARTITION_TABLE, MOVE_FROM_DEFAULT, ATTACH_PARTITION):
                execute(statement.format(**names), bounds)
        made.append(partition)
    return made


# How many runs created in the range may not go by the prune rule, and the first of them;
# read without locks (a check before the batches: each batch and the drop check again)
RANGE_STAYING = f"""
-- range_staying --
SELECT count(*), min(r.id)
FROM durable_run r
WHERE r.created_at >= COALESCE(%(lower)s::timestamptz, '-infinity') AND r.created_at < %(upper)s
  AND ({PRUNABLE}) IS NOT TRUE
"""

# The range's next prunable runs after the last batch (by creation time, then id), locked;
# a run a resume or a fork holds is skipped (the drop's check finds it if it must stay)
LOCK_RANGE_BATCH = f"""
-- lock_range_batch --
SELECT r.id, r.created_at
FROM durable_run r
WHERE r.created_at >= COALESCE(%(lower)s::timestamptz, '-infinity') AND r.created_at < %(upper)s
  AND (r.created_at, r.id) > (%(after_at)s::timestamptz, %(after_id)s)
  AND {PRUNABLE}
ORDER BY r.created_at, r.id
LIMIT %(batch_size)s
FOR UPDATE OF r SKIP LOCKED
"""

# Those runs, with their rows outside the history tables (the history goes with the drop)
DELETE_RANGE_BATCH = f"""
-- delete_range_batch --
WITH doomed AS (SELECT unnest(%(run_ids)s::text[]) AS id), {DELETE_DOOMED_RUNS}"""

# Where a range's batches have got to: (created_at, id) of the last run deleted
Keyset = tuple[datetime, str]
START: Keyset = (datetime.min.replace(tzinfo=UTC), "")


def range_staying(partition: Partition, cutoff: datetime) -> tuple[int, str | None]:
    """(how many runs of the range must stay by the prune rule, the first of them)."""
    params = {"lower": partition.lower, "upper": partition.upper, "cutoff": cutoff}
    staying, first = execute(RANGE_STAYING, params)[0]
    return staying, first


def delete_range_batch(
    partition: Partition, cutoff: datetime, after: Keyset, batch_size: int
) -> tuple[int, Keyset]:
    """Delete the range's next `batch_size` prunable runs after `after` (not their history,
    which the drop takes); (how many, the keyset to go on from). Inside a transaction."""
    params = {"lower": partition.lower, "upper": partition.upper, "cutoff": cutoff,
              "after_at": after[0], "after_id": after[1], "batch_size": batch_size}  # fmt: skip
    rows = execute(LOCK_RANGE_BATCH, params)
    if not rows:
        return 0, after
    execute(DELETE_RANGE_BATCH, {"run_ids": [run_id for run_id, _ in rows]})
    last_id, last_at = rows[-1]
    return len(rows), (last_at, last_id)


# Every run created in the range, locked (a resume or a fork waits, or is waited for), and
# how many may not go by the prune rule, which keeps a child a live parent still replays
RANGE_RUNS = f"""
-- range_runs --
WITH locked AS (
    SELECT r.id, {PRUNABLE} AS prunable
    FROM durable_run r
    WHERE r.created_at >= COALESCE(%(lower)s::timestamptz, '-infinity') AND r.created_at < %(upper)s
    ORDER BY r.id
    FOR UPDATE OF r
)
SELECT count(*), count(*) FILTER (WHERE NOT prunable), min(id) FILTER (WHERE NOT prunable)
FROM locked
"""

# The range's runs with their rows outside the history tables (those go with the partitions)
DELETE_RANGE_RUNS = f"""
-- delete_range_runs --
WITH doomed AS (
    SELECT id FROM durable_run
    WHERE created_at >= COALESCE(%(lower)s::timestamptz, '-infinity') AND created_at < %(upper)s
), {DELETE_DOOMED_RUNS}"""


@dataclass(frozen=True)
class Dropped:
    partition: Partition
    runs: int  # runs deleted with it (0 and `kept` when a run in it must stay)
    kept: str = ""  # why not dropped: a run of the range that is not prunable


def drop_partition(partition: Partition, cutoff: datetime) -> Dropped:
    """Drop the range's partitions of every history table, with the range's runs, if every
    run created in it is prunable at `cutoff`; else keep all of it. Inside `maintaining`."""
    params = {"lower": partition.lower, "upper": partition.upper, "cutoff": cutoff}
    _, staying, first = execute(RANGE_RUNS, params)[0]
    if staying:
        return Dropped(partition, 0, f"run {first} (and {staying - 1} more) must stay")
    deleted = len(execute(DELETE_RANGE_RUNS, params))
    # last, so the parents' strongest lock is held only from here to the commit
    for table in HISTORY_TABLES:
        execute(f"DROP TABLE IF EXISTS {partition.name(table)}", {})
    return Dropped(partition, deleted)
