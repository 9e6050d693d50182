"""The dashboard's heaviest reads stay on indexes that hold their filters: at a million
runs a plan that intersects two whole index ranges, or reads every heap row of a window,
is what put a page over its budget (bench/dashboard_pages.py)."""

from __future__ import annotations

import re
from datetime import UTC, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboard.queries import checkpoint_sizes, latency
from dashboard.queries.runs import RunFilter, counts_per_status_sql, filtered_runs
from durable.debugging import preview
from durable.models import Run, Step
from durable.operations import _partitioning as partitioning
from tests.dashboard.conftest import make_failed_run, make_run, make_step
from tests.dashboard.workflows import order
from tests.history_plans import partitions_of_days, partitions_planned, partitions_read


def _rare(n: int, rare: str, common: str, slot: int) -> str:
    """`rare` for one row in 150, else `common`."""
    return rare if n % 150 == slot else common


@pytest.fixture
def seeded_runs(transactional_db):
    """1,500 analyzed runs of four statuses; queue q3, error type demo.Rare and failure
    group fp-rare each hold 10 of them (a filter's value is rare, so its index is the
    planner's cheapest path whatever statistics an earlier test left)."""
    statuses = ("SUCCESS", "ERROR", "DEAD", "CANCELLED")
    Run.objects.bulk_create(
        Run(
            id=f"plan-{n}",
            workflow="w",
            status=statuses[n % 4],
            input={},
            queue=_rare(n, "q3", "default", 3),
            error_type=_rare(n, "demo.Rare", "demo.Common", 3),
            error_fingerprint=_rare(n, "fp-rare", "fp-common", 3),
        )  # fmt: skip
        for n in range(1500)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE durable_run")


def _plan(sql: str, params: list) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize(
    ("run_filter", "index"),
    [
        (RunFilter(queue="q3"), "run_queue_status_idx"),
        (RunFilter(error_type="demo.Rare"), "run_error_type_status_idx"),
        (RunFilter(fingerprint="fp-rare"), "run_fingerprint_status_idx"),
    ],
)
def test_status_counts_read_one_range_of_an_index_per_status(seeded_runs, run_filter, index):
    """Counts per status under a queue, an error type or a failure group: each count one
    range of an index with status second (the active statuses may use their own small
    partial indexes), never two whole index ranges intersected, or the filter's whole
    range re-read from the heap for each status (254 ms for a queue at 1M runs)."""
    base = filtered_runs(run_filter.without_status())
    plan = _plan(*counts_per_status_sql(base, run_filter.count_cap()))
    assert "BitmapAnd" not in plan, plan
    for status in ("SUCCESS", "ERROR", "CANCELLED", "DEAD"):
        assert f"AND (status = '{status}'::text))" in plan, plan
    assert f"Index Only Scan using {index}" in plan, plan


def test_checkpoint_sizes_stop_after_the_newest_checkpoints_of_the_window(transactional_db):
    """Outputs come from the heap, so the page reads a bounded number of them: a backward
    range over step_finished_idx under a LIMIT, never the whole day. A few analyzed steps
    stand for what earlier tests leave: on a table that small the planner prefers a
    sequential scan unless told its cost, as at a million runs, is prohibitive."""
    run = make_run(status="SUCCESS")
    for position in range(4):
        make_step(run, position)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE durable_step")
    until = timezone.now()
    query = checkpoint_sizes.sizes_query(until - timedelta(hours=24), until)
    plan = _plan(*query.query.sql_with_params())
    with connection.cursor() as cursor:  # the checkpoint table is partitioned: its copies
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'step_finished_idx'::regclass"
        )
        copies = {row[0] for row in cursor.fetchall()}
    assert any(f"Index Scan Backward using {name} " in plan for name in copies), plan
    assert "Limit  (cost" in plan and "Seq Scan on durable_step" not in plan, plan


def test_the_replay_preview_reads_only_the_partitions_of_its_runs_days(transactional_db):
    """The history is partitioned by its run's creation time: a read of runs' checkpoints by
    run id alone probes the index of every partition kept (one a day), so the bulk preview
    (500 runs, four reads) bounds each read by its runs' creation times: by their days, not
    the range between them (a run ten days back leaves the nine days between out)."""
    now = timezone.now()
    partitioning.create_ahead(since=now - timedelta(days=30))
    ids = [f"preview-plan-{n}" for n in range(3)]
    for n, run_id in enumerate(ids):
        created = now - timedelta(days=10 if n == 2 else 0)
        Run.objects.create(id=run_id, workflow="w", status="ERROR", input={}, created_at=created)
        Step.objects.create(
            run_id=run_id, position=0, name="s", status="ERROR",
            started_at=timezone.now(), finished_at=timezone.now(),
        )  # fmt: skip
    days = {f"durable_step_p{moment.astimezone(UTC):%Y%m%d}"
            for moment in (now, now - timedelta(days=10))}  # fmt: skip
    with CaptureQueriesContext(connection) as reads:
        preview.preview("resume", ids)
    history_reads = [read["sql"] for read in reads if "durable_step" in read["sql"]]
    assert history_reads
    for sql in history_reads:
        assert partitions_planned(sql) == days, sql


@pytest.fixture
def shown(db) -> dict[str, Run]:
    """Runs of two days, with the partitions of every day of the last month: a failed run of
    a version no executor runs (its page offers a fork onto the current code, from the step
    its last checkpoint says), a live run and a live run created ten days ago (the runs
    list says why each waits)."""
    now = timezone.now()
    partitioning.create_ahead(since=now - timedelta(days=30))
    runs = {
        "failed": make_failed_run(workflow=order.__durable_workflow__.name, version="0ld"),
        "live": make_run(status="RUNNING", finished_at=None),
        "old": make_run(
            status="RUNNING",
            finished_at=None,
            created_at=now - timedelta(days=10),
            started_at=now - timedelta(days=10),
        ),
    }
    make_step(runs["live"], 0)
    make_step(runs["old"], 0)
    with connection.cursor() as cursor:  # plans as autovacuum's statistics would shape them
        cursor.execute("ANALYZE durable_run, durable_step, durable_attempt, durable_steplog")
    return runs


@pytest.mark.parametrize(
    ("page", "runs_shown"),
    [
        ("/", ("failed", "live", "old")),
        ("/?status=RUNNING", ("live", "old")),
        ("/?status=ERROR", ("failed",)),
        ("/runs/{failed}/", ("failed",)),
        ("/runs/{old}/", ("old",)),
        ("/admin/durable/run/{failed}/change/", ("failed",)),
        ("/bulk/?action=fork&scope=selected&run_ids={failed}&run_ids={old}", ("failed", "old")),
    ],
)
def test_a_pages_reads_of_history_are_planned_on_its_runs_partitions_only(
    request, shown, page, runs_shown
):
    """The runs list (each row's step count, last entry and active time, why a live row
    waits), the run page (its steps, attempts and logs, why it waits, the step a fork onto
    the current code starts from), its admin page and the bulk preview of chosen runs (which
    of them a fork has no failed step to start from) read history in the partitions of the
    runs shown, pruned while the read is planned: their creation times are constants in it.
    Learned from the run row as the statement runs (a join, a lateral, a correlated
    subquery), or not named at all, the read is planned against every partition kept, one a
    day: about 1 ms each on a page's new connection. The run created ten days back tells
    the days shown apart from the range between them."""
    client = request.getfixturevalue("admin_client" if "/admin/" in page else "owner_client")
    with CaptureQueriesContext(connection) as reads:
        url = page.format(**{name: run.id for name, run in shown.items()})
        assert client.get(url).status_code == 200
    history_reads = [
        read["sql"] for read in reads if re.search(r"durable_(step|attempt|steplog)\b", read["sql"])
    ]
    assert history_reads
    days = partitions_of_days(*(shown[name].created_at for name in runs_shown))
    for sql in history_reads:
        planned = partitions_planned(sql)
        assert planned <= days, (sql, sorted(planned - days))


@pytest.mark.parametrize(
    "page", ["/bulk/?action=fork&scope=matching&window=24h", "/?logs=card+declined&window=24h"]
)
def test_a_filters_window_keeps_its_history_reads_out_of_older_partitions(
    owner_client, shown, page
):
    """A runs filter's window bounds its runs' creation time, the partition key: the bulk
    preview's count of runs a fork has no failed step for, and a search of their step
    logs, are planned on the partitions from the window's start on, not on every one kept."""
    with CaptureQueriesContext(connection) as reads:
        assert owner_client.get(page).status_code == 200
    history_reads = [
        read["sql"] for read in reads if re.search(r"durable_(step|attempt|steplog)\b", read["sql"])
    ]
    assert history_reads
    now = timezone.now()
    older = partitions_of_days(*(now - timedelta(days=n) for n in range(2, 31)))
    for sql in history_reads:
        planned = partitions_planned(sql)
        assert planned and not planned & older, (sql, sorted(planned & older))


@pytest.mark.parametrize("runs", [1, 300])
def test_a_workflows_step_names_come_from_its_runs_partitions_only(transactional_db, runs):
    """The latency page's step choices for one workflow read its latest 200 runs' steps in
    their partitions only, pruned while the read is planned (by id alone: 200 probes of
    every partition kept; by the run rows' created_at: every partition planned), also once
    the statistics say a hash join over the partitions would be cheaper."""
    partitioning.create_ahead(since=timezone.now() - timedelta(days=30))
    created = []
    for _ in range(runs):
        run = make_run()
        make_step(run, 0)
        created.append(run.created_at)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE durable_run, durable_step")
    with CaptureQueriesContext(connection) as reads:
        assert latency.workflow_step_names(run.workflow) == ["shop.step_0"]
    history_reads = [read["sql"] for read in reads if "durable_step" in read["sql"]]
    assert history_reads
    days = {f"durable_step_p{moment.astimezone(UTC):%Y%m%d}" for moment in created}
    for sql in history_reads:  # the runs' days (one, unless they straddle midnight UTC)
        assert partitions_planned(sql) == days, sql
        assert partitions_read(sql) == days, sql
