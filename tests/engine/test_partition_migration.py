"""An installation with history moves to the partitioned tables: every row kept, copied in
batches, and its runs resume from their checkpoints afterwards."""

from __future__ import annotations

import importlib
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

import durable
from durable import executors, operations
from durable.operations import _partitioning as partitioning
from tests.engine import workflows
from tests.engine.test_partitions import TABLES, history
from tests.engine.workflows import Boom, fails_at_third_step

BEFORE = ("durable", "0033_step_run_without_fk_check")
PARTITIONING = importlib.import_module("durable.migrations.0034_partition_history")


def _sql(statement: str, params: dict | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or {})
        return cursor.fetchall() if cursor.description else []


def _migrate(target: tuple[str, str] | None) -> None:
    executor = MigrationExecutor(connection)
    if target is None:  # the latest
        target = next(node for node in executor.loader.graph.leaf_nodes() if node[0] == "durable")
    executor.migrate([target])
    connection.close()  # prepared statements of the old tables go with the session


def _rows(table: str) -> list[dict]:
    """Every row as written, without the partition key the migration adds."""
    statement = f"SELECT (to_jsonb(t) - 'run_created_at')::text FROM {table} t ORDER BY id"
    return [json.loads(row[0]) for row in _sql(statement)]


def _kind(table: str) -> str:
    return _sql("SELECT relkind FROM pg_class WHERE oid = %(t)s::regclass", {"t": table})[0][0]


@pytest.fixture
def unpartitioned(side_effects):
    """Runs recorded, then the tables taken back to before partitioning; afterwards the
    test database is left as a fresh one is (partitioned, no catch-all old partition)."""
    workflows.FLAKY_FAILURES["mig-failed"] = 1
    with pytest.raises(Boom):
        durable.run(fails_at_third_step, "mig-failed", run_id="mig-failed")
    workflows.FLAKY_FAILURES["mig-history"] = 1
    durable.run(history, "mig-history", run_id="mig-history")
    executors.shutdown()
    _migrate(BEFORE)
    yield
    _migrate(None)
    _sql("DELETE FROM durable_run")
    for table in TABLES:
        _sql(f"DELETE FROM {table}")
        _sql(f"DROP TABLE IF EXISTS {table}_pmin")
    partitioning.create_ahead()


def test_a_populated_history_keeps_every_row_and_its_runs_resume(
    unpartitioned, side_effects, monkeypatch
):
    assert {_kind(table) for table in TABLES} == {"r"}
    before = {table: _rows(table) for table in TABLES}
    assert all(before.values())  # checkpoints, attempts and step logs to carry across
    monkeypatch.setattr(PARTITIONING, "BATCH", 2)  # several batches, each committed

    _migrate(None)

    assert {_kind(table) for table in TABLES} == {"p"}
    assert {table: _rows(table) for table in TABLES} == before
    for table in TABLES:
        mismatched = _sql(
            f"SELECT count(*) FROM {table} t JOIN durable_run r ON r.id = t.run_id"
            " WHERE t.run_created_at <> r.created_at"
        )
        assert mismatched == [(0,)]
        homes = _sql(f"SELECT DISTINCT tableoid::regclass::text FROM {table}")
        assert homes == [(f"{table}_pmin",)]
    operations.resume("mig-failed")
    assert durable.get("mig-failed").result(timeout=10) == "done"
    assert side_effects("mig-failed") == {"first": 1, "second": 1, "third": 1}
    new_ids = _sql("SELECT min(id) FROM durable_step WHERE run_id = 'mig-failed' AND position = 2")
    assert new_ids[0][0] > max(row["id"] for row in before["durable_step"])
    # the catch-all partition of the old rows goes whole once every run in it may go
    executors.shutdown()  # (its duty would hold the partitions' maintenance lock meanwhile)
    cutoff = timezone.now() + timedelta(days=2)
    dropped = {result.partition.suffix: result for result in partitioning.drop_expired(cutoff)}
    assert (dropped["pmin"].runs, dropped["pmin"].kept) == (2, "")
    assert not any(_sql("SELECT to_regclass(%(t)s)", {"t": f"{t}_pmin"})[0][0] for t in TABLES)
