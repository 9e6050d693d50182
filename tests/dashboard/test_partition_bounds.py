"""A page's runs' creation times as bounds the planner prunes history partitions by."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import connection

from dashboard.queries import partition_bounds
from durable.models import Step, creation_spans

T = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)


def test_times_less_than_a_day_apart_share_a_span_and_a_day_apart_start_one():
    """Within a span no whole day passes without a run, so no partition without one of
    them lies inside it, whichever days the partitions start on."""
    hour, day = timedelta(hours=1), timedelta(days=1)
    times = [T + 2 * hour, T, T + 10 * day, T + 2 * hour + day - timedelta(microseconds=1)]
    assert creation_spans(times) == [
        (T, T + 2 * hour + day - timedelta(microseconds=1)),
        (T + 10 * day, T + 10 * day),
    ]


def test_the_named_bound_gives_each_time_its_own_parameter():
    condition, params = partition_bounds.within_named([T, T + timedelta(days=3)])
    assert condition == (
        "(run_created_at BETWEEN %(created_0)s AND %(created_1)s"
        " OR run_created_at BETWEEN %(created_2)s AND %(created_3)s)"
    )
    assert params == {"created_0": T, "created_1": T, "created_2": T + timedelta(days=3),
                      "created_3": T + timedelta(days=3)}  # fmt: skip


def test_no_runs_bound_no_rows(db):
    """An empty page reads no history: the bound is false, not malformed SQL."""
    assert partition_bounds.within_sql([]) == ("(FALSE)", [])
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM durable_step WHERE {partition_bounds.within_sql([])[0]}"
        )
        assert cursor.fetchone() == (0,)
    assert list(Step.objects.created_within([])) == []
