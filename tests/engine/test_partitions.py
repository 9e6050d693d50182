"""The history (checkpoints, attempts, step logs) is partitioned by its run's creation time:
partitions are made ahead by the executors' duty, a run's rows land in its partition, and
retention drops a partition whole, never one a parked parent still needs."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import OperationalError, connection
from django.utils import timezone

import durable
from durable import operations
from durable.core.store import _partitions as store_partitions
from durable.executors import duties
from durable.models import Run, RunStatus, Step
from durable.operations import _partitioning as partitioning
from durable.operations import _retention as retention
from tests.engine import workflows
from tests.engine.workflows import Boom, child, explode, note

TABLES = ("durable_step", "durable_attempt", "durable_steplog")


def _day(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _sql(statement: str, params: dict | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or {})
        return cursor.fetchall() if cursor.description else []


def _exists(table: str) -> bool:
    return _sql("SELECT to_regclass(%(t)s) IS NOT NULL", {"t": table})[0][0]


def _homes(table: str, run_id: str) -> set[str]:
    """The partitions that hold a run's rows of `table`."""
    rows = _sql(
        f"SELECT tableoid::regclass::text FROM {table} WHERE run_id = %(id)s", {"id": run_id}
    )
    return {row[0] for row in rows}


def _backdate(run_id: str, created_at: datetime, finished_at: datetime | None = None) -> None:
    """Move a run (and its history rows, which follow their partition key) into the past."""
    _sql(
        "UPDATE durable_run SET created_at = %(at)s WHERE id = %(id)s",
        {"at": created_at, "id": run_id},
    )
    if finished_at is not None:
        _sql(
            "UPDATE durable_run SET finished_at = %(at)s WHERE id = %(id)s",
            {"at": finished_at, "id": run_id},
        )
    for table in TABLES:
        _sql(
            f"UPDATE {table} SET run_created_at = %(at)s WHERE run_id = %(id)s",
            {"at": created_at, "id": run_id},
        )


def test_the_timed_duty_makes_partitions_ahead_of_today(transactional_db, settings):
    settings.DURABLE_PARTITIONS_AHEAD = 3
    duty = {d.name: d for d in duties.engine_duties("thread")}["partitions"]
    assert "celery" in duty.kinds  # every executor keeps them, not a cron outside the app
    duties.TimedDuties([duty]).run_due()
    today = _day(timezone.now())
    for offset in range(4):
        suffix = f"p{today + timedelta(days=offset):%Y%m%d}"
        assert all(_exists(f"{table}_{suffix}") for table in TABLES), suffix
    assert partitioning.create_ahead() == []  # a second pass finds nothing to make


@durable.step()
def chatty(run_id: str) -> str:
    logging.getLogger("tests.partitions").warning("a line for the step log")
    return run_id


@durable.workflow(name="tests.partitions.history")
def history(run_id: str) -> str:
    chatty(run_id)
    return workflows.flaky(run_id)


def test_a_checkpoint_its_attempts_and_logs_land_in_their_runs_partition(side_effects):
    partitioning.create_ahead()
    workflows.FLAKY_FAILURES["part-lands"] = 1
    durable.run(history, "part-lands", run_id="part-lands")
    created = Run.objects.get(id="part-lands").created_at
    for table in TABLES:
        assert _homes(table, "part-lands") == {f"{table}_p{_day(created):%Y%m%d}"}
    assert Step.objects.filter(run_id="part-lands").count() == 2  # the ORM's view is whole


def test_rows_the_default_partition_caught_get_a_partition_of_their_own(side_effects):
    durable.run(workflows.ledger, "part-late", ["a"], run_id="part-late")
    long_ago = timezone.now() - timedelta(days=400)
    _backdate("part-late", long_ago)
    assert _homes("durable_step", "part-late") == {"durable_step_default"}
    made = {partition.suffix for partition in partitioning.create_ahead()}
    suffix = f"p{_day(long_ago):%Y%m%d}"
    # made by this pass, or by the same pass of the test executor's timed duty if it ran
    # between the backdate and this call (it did once in CI)
    assert suffix in made or _exists(f"durable_step_{suffix}")
    assert _homes("durable_step", "part-late") == {f"durable_step_p{_day(long_ago):%Y%m%d}"}
    assert _sql("SELECT count(*) FROM durable_step_default")[0][0] == 0


@durable.workflow(name="tests.partitions.parent")
def parent(run_id: str) -> str:
    result = durable.start(child, run_id, run_id=f"{run_id}-child").result()
    note(run_id, "after-child")
    if workflows.FLAKY_FAILURES.get(run_id, 0) > 0:
        workflows.FLAKY_FAILURES[run_id] -= 1
        explode("the parent breaks after its child")
    return result


def test_retention_drops_an_old_partition_whole_but_keeps_the_one_a_parked_parent_needs(
    side_effects,
):
    workflows.FLAKY_FAILURES["part-parent"] = 1
    with pytest.raises(Boom):
        durable.run(parent, "part-parent", run_id="part-parent")
    durable.run(workflows.ledger, "part-old", ["x"], run_id="part-old")
    # the parent parked in ERROR (kept: it may be resumed), created on day D; its child,
    # finished long ago, created on day D+1; an unrelated run, long finished, on day D+2
    day = _day(timezone.now() - timedelta(days=60)) + timedelta(hours=12)
    _backdate("part-parent", day)
    _backdate("part-parent-child", day + timedelta(days=1), day + timedelta(days=1))
    _backdate("part-old", day + timedelta(days=2), day + timedelta(days=2))
    partitioning.create_ahead()  # their rows left the default partition for their own
    old = f"p{day + timedelta(days=2):%Y%m%d}"
    needed = f"p{day + timedelta(days=1):%Y%m%d}"
    assert _homes("durable_step", "part-old") == {f"durable_step_{old}"}
    assert _homes("durable_step", "part-parent-child") == {f"durable_step_{needed}"}

    assert retention.prune(timedelta(days=30)) == 1

    assert not any(_exists(f"{table}_{old}") for table in TABLES)  # dropped, not emptied
    assert not Run.objects.filter(id="part-old").exists()
    assert all(_exists(f"{table}_{needed}") for table in TABLES)
    assert Step.objects.filter(run_id="part-parent-child").exists()
    # the parent resumes: its replay finds its child (no second child run, no re-execution)
    operations.resume("part-parent")
    assert durable.get("part-parent").result(timeout=10) == "child-done"
    assert side_effects("part-parent") == {"child-ran": 1, "after-child": 1}


def test_a_partition_whose_runs_are_all_past_retention_goes_with_every_run_in_it(side_effects):
    durable.run(workflows.ledger, "part-a", ["a"], run_id="part-a")
    durable.run(workflows.ledger, "part-b", ["b"], run_id="part-b")
    day = _day(timezone.now() - timedelta(days=90)) + timedelta(hours=6)
    _backdate("part-a", day, day)
    _backdate("part-b", day + timedelta(hours=1), day + timedelta(days=20))
    partitioning.create_ahead()
    cutoff = timezone.now() - timedelta(days=30)
    results = partitioning.drop_expired(cutoff)
    dropped = {result.partition.suffix: result for result in results}
    assert dropped[f"p{day:%Y%m%d}"].runs == 2 and not dropped[f"p{day:%Y%m%d}"].kept
    assert not Run.objects.filter(id__in=["part-a", "part-b"]).exists()
    assert not _exists(f"durable_step_p{day:%Y%m%d}")


def test_a_partitions_runs_go_in_batches_of_their_own_before_the_drop(side_effects):
    """The run rows of a partition are deleted in batches, each its own transaction, before
    the drop: a drop that cannot get its lock (a long read of the partition) rolls back only
    itself, not the day's deletes, and the next pass drops the emptied partition."""
    ids = [f"part-batch-{k}" for k in range(3)]
    day = _day(timezone.now() - timedelta(days=150)) + timedelta(hours=2)
    for k, run_id in enumerate(ids):
        durable.run(workflows.ledger, run_id, [run_id], run_id=run_id)
        _backdate(run_id, day + timedelta(minutes=k), day + timedelta(minutes=k))
    partitioning.create_ahead()
    partition = f"durable_step_p{day:%Y%m%d}"
    params = {**connection.get_connection_params(), "autocommit": False}
    with psycopg.connect(**params) as reader:  # a long read holds the partition
        reader.execute(f"SELECT count(*) FROM {partition}")
        with pytest.raises(OperationalError, match="lock timeout"):
            retention.prune(timedelta(days=30), batch_size=1)
        reader.rollback()
    assert not Run.objects.filter(id__in=ids).exists()  # the batches had committed
    assert _exists(partition)  # the drop alone waits for the next pass
    retention.prune(timedelta(days=30), batch_size=1)
    assert not _exists(partition)


def test_a_partition_with_a_run_still_going_is_kept_and_says_which(side_effects):
    durable.run(workflows.ledger, "part-done", ["a"], run_id="part-done")
    Run.objects.create(
        id="part-live", workflow="tests.ledger", status=RunStatus.ENQUEUED,
        input={"args": []}, available_at=timezone.now() + timedelta(days=1),
    )  # fmt: skip
    day = _day(timezone.now() - timedelta(days=120)) + timedelta(hours=3)
    _backdate("part-done", day, day)
    _backdate("part-live", day + timedelta(hours=1))
    partitioning.create_ahead()
    results = partitioning.drop_expired(timezone.now() - timedelta(days=30))
    kept = {result.partition.suffix: result.kept for result in results}
    assert "part-live" in kept[f"p{day:%Y%m%d}"]
    assert _exists(f"durable_step_p{day:%Y%m%d}")
    assert Run.objects.filter(id__in=["part-done", "part-live"]).count() == 2


def test_a_bulk_load_of_past_runs_gets_its_partitions_first(transactional_db):
    since = timezone.now() - timedelta(days=31)
    partitioning.create_ahead(since=since)
    for offset in range(0, 32, 5):
        suffix = f"p{_day(since) + timedelta(days=offset):%Y%m%d}"
        assert all(_exists(f"{table}_{suffix}") for table in TABLES), suffix


def test_runs_writing_to_the_default_partition_go_on_while_the_duty_moves_their_rows(
    side_effects,
):
    """The duty moves rows out of the default partition while their runs still write:
    no checkpoint fails or goes astray, no step runs twice, no recorded step is missed."""
    days = [_day(timezone.now() - timedelta(days=500 + k)) for k in range(3)]
    ids = [f"part-moving-{k}" for k in range(3)]
    for run_id in ids:
        durable.start(workflows.slow_ledger, run_id, 60, 0.005, run_id=run_id, delay=0.5)
    for run_id, day in zip(ids, days, strict=True):  # no partition covers their day yet
        _backdate(run_id, day + timedelta(hours=1))
    deadline = timezone.now() + timedelta(seconds=20)
    # until each has checkpoints (in the default partition), and goes on writing
    while Step.objects.filter(run_id__in=ids).values("run_id").distinct().count() < len(ids):
        assert timezone.now() < deadline, "the runs never started"
        time.sleep(0.01)
    made = partitioning.create_ahead()
    assert {f"p{day:%Y%m%d}" for day in days} <= {partition.suffix for partition in made}
    for run_id, day in zip(ids, days, strict=True):
        assert durable.get(run_id).result(timeout=30) == 60
        assert set(side_effects(run_id).values()) == {1}  # each step once
        assert _homes("durable_step", run_id) == {f"durable_step_p{day:%Y%m%d}"}
    assert _sql("SELECT count(*) FROM durable_step_default")[0][0] == 0


def test_a_wider_partition_setting_fills_only_the_gaps_after_the_existing_partitions(
    transactional_db, settings
):
    partitioning.create_ahead()  # daily ones, as made so far
    settings.DURABLE_PARTITION_DAYS = 7
    settings.DURABLE_PARTITIONS_AHEAD = 4
    partitioning.create_ahead()  # would fail on an overlap (PostgreSQL refuses one)
    horizon = timezone.now() + timedelta(days=7 * 4)
    uppers = [partition.upper for partition in store_partitions.partitions()]
    assert max(upper for upper in uppers if upper) >= horizon
    assert partitioning.create_ahead() == []
