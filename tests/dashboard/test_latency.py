"""The latency page: percentiles per workflow and step, queue wait apart, a trend chart."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.queries.latency import step_latency, workflow_latency
from tests.dashboard.conftest import HOSTILE, make_run, make_step

pytestmark = pytest.mark.django_db


def _runs() -> None:
    now = timezone.now()
    for seconds in (1, 2, 3, 4, 100):
        run = make_run(
            workflow="shop.order",
            created_at=now - timedelta(seconds=seconds + 60),
            started_at=now - timedelta(seconds=seconds + 10),
            finished_at=now - timedelta(seconds=10),
        )
        make_step(
            run,
            0,
            name="shop.charge",
            duration_ms=seconds * 1000.0,
            finished_at=now - timedelta(seconds=10),
        )


def test_percentiles_are_computed_per_workflow_with_queue_wait_apart(db):
    _runs()
    now = timezone.now()
    [row] = workflow_latency(now - timedelta(hours=1), now)
    assert row["runs"] == 5
    assert row["run"]["p50"] == pytest.approx(3000, rel=0.01)
    assert row["wait"]["p50"] == pytest.approx(50_000, rel=0.01)
    [step] = step_latency(now - timedelta(hours=1), now)
    assert step["name"] == "shop.charge" and step["p99"] > step["p95"] > step["p50"]


def test_viewer_sees_the_page_with_a_chart(viewer_client):
    _runs()
    content = viewer_client.get("/latency/?window=1h").content.decode()
    assert "shop.order" in content and "plotly-figure-data" in content
    assert "Wait p95" in content


def test_empty_window_says_so(viewer_client):
    assert b"No runs finished in the last 1h" in viewer_client.get("/latency/?window=1h").content


def test_stranger_gets_403(stranger_client):
    assert stranger_client.get("/latency/").status_code == 403


def test_hostile_workflow_names_are_escaped(viewer_client):
    make_run(workflow=HOSTILE)
    content = viewer_client.get("/latency/").content.decode()
    assert HOSTILE not in content


def _past_hour_runs() -> None:
    """Runs and steps that finished two hours ago, with spread-out durations."""
    finished = timezone.now() - timedelta(hours=2)
    for index in range(1, 41):
        run = make_run(
            workflow="shop.order",
            created_at=finished - timedelta(seconds=index + 5),
            started_at=finished - timedelta(seconds=index),
            finished_at=finished,
        )
        make_step(run, 0, name="shop.charge", duration_ms=index * 50.0, finished_at=finished)


def test_rollups_give_percentiles_within_seven_percent_of_exact(db):
    from dashboard import rollups
    from dashboard.queries import latency_rollups

    _past_hour_runs()
    assert rollups.refresh() > 0
    now = timezone.now()
    since = now - timedelta(days=7)
    [exact] = step_latency(since, now)
    [rolled] = latency_rollups.step_latency(since, now)
    assert rolled["count"] == exact["count"] == 40
    for key in ("p50", "p95", "p99"):
        assert rolled[key] == pytest.approx(exact[key], rel=0.08)
    [workflow] = latency_rollups.workflow_latency(since, now)
    assert workflow["runs"] == 40 and workflow["failed"] == 0
    assert workflow["wait"]["p50"] == pytest.approx(5000, rel=0.08)


def test_refresh_rolls_each_hour_once(db):
    from dashboard import rollups
    from dashboard.models import LatencyRollup

    _past_hour_runs()
    rollups.refresh()
    rows = LatencyRollup.objects.count()
    assert rollups.refresh() == 0
    assert LatencyRollup.objects.count() == rows


def test_long_windows_read_the_rollups(viewer_client):
    _past_hour_runs()
    content = viewer_client.get("/latency/?window=7d").content.decode()
    assert "hourly rollups" in content and "shop.charge" in content


def test_a_days_step_percentiles_come_from_histograms_and_the_unrolled_checkpoints(
    viewer_client,
):
    """The 24 h page never sorts a day of checkpoints for its step table: complete hours
    come from the hourly histograms, the hours not rolled up (the newest, and the window's
    first partial hour) from their own checkpoints, bucketed alike; within 7% of exact."""
    from dashboard import rollups
    from dashboard.queries import latency_rollups

    _past_hour_runs()
    now = timezone.now()
    since = now - timedelta(hours=24)
    run = make_run(workflow="shop.order")
    make_step(
        run, 0, name="shop.charge", duration_ms=75.0, finished_at=since + timedelta(seconds=1)
    )
    for index in range(1, 41):  # not rolled up yet: the current hour
        make_step(run, index, name="shop.charge", duration_ms=index * 60.0,
                  finished_at=now - timedelta(seconds=5))  # fmt: skip
    rollups.refresh()
    [exact] = step_latency(since, now)
    [mixed] = latency_rollups.step_latency(since, now, unrolled=True)
    assert mixed["count"] == exact["count"] == 81
    for key in ("p50", "p95", "p99"):
        assert mixed[key] == pytest.approx(exact[key], rel=0.08)
    page = viewer_client.get("/latency/?window=24h").content.decode()
    assert "Step percentiles over 24 h are read from hourly histograms" in page
    assert "shop.charge" in page
