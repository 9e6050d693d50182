"""A statement about one run's history reads that run's partition only.

The history tables (checkpoints, attempts, step logs) have a partition per day of their
runs' creation, and with no retention set they keep one for every day since the install:
a statement that looks a run up by id alone probes each of them, a year of them after a
year. So every such statement also names the run's creation time, and PostgreSQL prunes
the other partitions while it runs (docs/partitioning.md). A recovery looks up each
position of the run's history, so unpruned it probed every partition once per checkpoint.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import durable
from durable.core import store
from durable.core.store import _forks, _leases, _primitives, _steps, _trees
from durable.operations import _partitioning as partitioning
from durable.operations import _patching as patching
from tests.engine.workflows import FLAKY_FAILURES, Boom, fails_at_third_step
from tests.history_plans import HISTORY_TABLES, partitions_planned, partitions_read


def _partitions_of(run_id: str) -> set[str]:
    """The partitions holding `run_id`'s history rows."""
    with connection.cursor() as cursor:
        cursor.execute(
            " UNION ".join(
                f"SELECT tableoid::regclass::text FROM {table} WHERE run_id = %(run_id)s"
                for table in HISTORY_TABLES
            ),
            {"run_id": run_id},
        )
        return {row[0] for row in cursor.fetchall()}


@pytest.fixture
def failed_run(side_effects) -> str:
    """A run that failed at its third step: two checkpoints, then a failed attempt; the
    partitions of the days around it exist."""
    partitioning.create_ahead(since=timezone.now() - timedelta(days=3))
    FLAKY_FAILURES["one-partition"] = 1
    with pytest.raises(Boom):
        durable.run(fails_at_third_step, "one-partition", run_id="one-partition")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'durable_step'::regclass"
        )
        assert cursor.fetchone()[0] > 5, "the test needs other partitions to leave out"
    assert _partitions_of("one-partition")
    return "one-partition"


def _taken_by(run_id: str, executor_id: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE durable_run SET status = 'RUNNING', executor_id = %s,"
            " lease_expires_at = now() - interval '1 minute' WHERE id = %s",
            [executor_id, run_id],
        )


def test_a_recovery_reads_only_its_runs_partition(failed_run):
    _taken_by(failed_run, "a-dead-executor")
    params = {"run_id": failed_run, "executor_id": "a-dead-executor", "max_recoveries": 5}
    assert partitions_read(_leases.GIVE_BACK_RUN, params) <= _partitions_of(failed_run)


def test_a_resume_reads_only_its_runs_partition(failed_run):
    created = [row[0] for row in store.execute(_trees.RUNS_CREATED_AT, {"run_ids": [failed_run]})]
    params = {"run_ids": [failed_run], "created": created}
    assert partitions_read(_trees.RESUME_RUNS, params) <= _partitions_of(failed_run)


def test_a_fork_reads_only_its_origins_partition(failed_run):
    with connection.cursor() as cursor:  # a run with no history yet, as a fork starts
        cursor.execute(
            "CREATE TEMP TABLE target AS SELECT * FROM durable_run WHERE id = %s", [failed_run]
        )
        cursor.execute("UPDATE target SET id = 'fork-target', dedup_id = NULL, created_at = now()")
        cursor.execute("INSERT INTO durable_run SELECT * FROM target")
    params = {"new_id": "fork-target", "origin_id": failed_run, "from_step": 2, "same_input": True}
    origin = _partitions_of(failed_run)
    assert partitions_read(_forks.COPY_CHECKPOINTS, params) <= origin
    assert partitions_read(_forks.COPIED_EVENTS, params) <= origin


def test_waking_a_receiver_reads_only_its_runs_partition(failed_run):
    with connection.cursor() as cursor:  # parked, as a recv leaves it
        cursor.execute(
            "UPDATE durable_run SET status = 'ENQUEUED', available_at = now() + interval '1 hour'"
            " WHERE id = %s",
            [failed_run],
        )
    params = {"run_id": failed_run, "topic": "go"}
    assert partitions_read(_primitives.WAKE_RECEIVER, params) <= _partitions_of(failed_run)


def test_settling_a_lost_checkpoint_reply_reads_only_its_runs_partition(failed_run):
    _taken_by(failed_run, "an-executor")
    now = datetime.now(UTC)
    params = {
        "run_id": failed_run, "executor_id": "an-executor", "position": 0, "name": "tests.note",
        "status": "SUCCESS", "attempts": 1, "started_at": now, "finished_at": now,
    }  # fmt: skip
    partitions = _partitions_of(failed_run)
    assert partitions_read(_steps.STEP_WRITTEN_BY, params) <= partitions
    assert partitions_read(_steps.RECORDED_STEP, params) <= partitions
    assert partitions_read(_steps.STEP_INPUT, params) <= partitions


def _history_reads(reads: CaptureQueriesContext) -> list[str]:
    return [read["sql"] for read in reads if re.search(r"durable_(step|attempt)\b", read["sql"])]


def test_a_runs_steps_are_listed_from_its_partition_only(failed_run):
    """`durable.get(...).steps()` (and `durable list-steps`, the CLI's inspect): planned on
    the run's partition, not on one a day kept."""
    with CaptureQueriesContext(connection) as reads:
        steps = durable.get(failed_run).steps()
    assert [step.position for step in steps] == [0, 1, 2]
    assert _history_reads(reads)
    for sql in _history_reads(reads):
        planned = partitions_planned(sql)
        assert planned and planned <= _partitions_of(failed_run), sql


def test_a_forks_patch_reads_and_writes_its_runs_partition_only(failed_run):
    with CaptureQueriesContext(connection) as reads:
        patching.prepare(failed_run, 2, {0: {"patched": True}})
        patching.apply(failed_run, {0: {"patched": True}})
    assert _history_reads(reads)
    for sql in _history_reads(reads):
        planned = partitions_planned(sql)
        assert planned and planned <= _partitions_of(failed_run), sql
