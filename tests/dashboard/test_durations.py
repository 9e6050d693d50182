"""Honest durations: active time (in steps and retries) apart from time parked."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from dashboard.charts import latency_over_time
from dashboard.queries.latency import step_latency, workflow_latency, workflow_step_names
from durable.models import Run
from tests.dashboard.conftest import make_run, make_step

pytestmark = pytest.mark.django_db


def _resumed_an_hour_later(run_id: str = "slow-1") -> Run:
    """8 s of steps, then parked in ERROR for an hour, resumed and finished."""
    now = timezone.now()
    start = now - timedelta(hours=1, seconds=20)
    run = make_run(id=run_id, created_at=start, started_at=start, finished_at=now)
    make_step(
        run, 0, duration_ms=3000.0, started_at=start, finished_at=start + timedelta(seconds=3)
    )
    make_step(run, 1, duration_ms=5000.0, started_at=now - timedelta(seconds=5), finished_at=now)
    return run


def test_a_run_resumed_an_hour_later_shows_seconds_active_and_an_hour_parked(viewer_client):
    _resumed_an_hour_later()
    page = viewer_client.get("/runs/slow-1/").content.decode()
    assert '<dd id="active-time">8.0 s</dd>' in page
    assert '<dd id="parked-time">1.0 h</dd>' in page
    listing = viewer_client.get("/").content.decode()
    assert "8.0 s" in listing and "1.0 h" in listing


def test_the_latency_page_reads_active_time_not_started_to_finished(viewer_client):
    _resumed_an_hour_later()
    Run.objects.filter(id="slow-1").update(active_ms=8000.0)  # as finish_run writes it
    [row] = workflow_latency(timezone.now() - timedelta(hours=2), timezone.now())
    assert row["run"]["p95"] == pytest.approx(8000)
    assert row["parked"]["p95"] == pytest.approx(3_600_000 + 12_000, rel=0.01)
    content = viewer_client.get("/latency/?window=6h").content.decode()
    assert "Parked p95" in content and "8.0 s" in content


def test_latency_charts_use_a_log_axis_labelled_in_human_units():
    rows = [{"bucket": timezone.now(), "runs": 3, "p50": 800.0, "p95": 9000.0, "p99": 400_000.0}]
    html = latency_over_time(rows, "t")
    assert '"type":"log"' in html and '"1 s"' in html and '"1 min"' in html


def test_the_workflow_selector_filters_the_steps_table_and_draws_a_chart_per_step(viewer_client):
    shop = make_run(workflow="shop.order")
    make_step(shop, 0, name="shop.charge")
    ml = make_run(workflow="ml.train")
    make_step(ml, 0, name="ml.fit")
    assert workflow_step_names("ml.train") == ["ml.fit"]
    now = timezone.now()
    assert [r["name"] for r in step_latency(now - timedelta(hours=1), now, ["ml.fit"])] == [
        "ml.fit"
    ]
    content = viewer_client.get("/latency/?window=1h&workflow=ml.train").content.decode()
    table = content.split('id="step-latency"')[1].split("</table>")[0]
    assert "ml.fit" in table and "shop.charge" not in table
    assert "/latency/steps/?window=1h&amp;step=ml.fit" in content  # loaded after the page
    charts = viewer_client.get("/latency/steps/?window=1h&step=ml.fit").content.decode()
    assert 'id="step-charts"' in charts and charts.count("plotly-figure-data") == 1


def test_the_cli_shows_active_and_parked_time():
    _resumed_an_hour_later("cli-slow")
    out = io.StringIO()
    call_command("durable", "list", stdout=out)
    assert "ACTIVE" in out.getvalue() and "PARKED" in out.getvalue()
    assert "8.0s" in out.getvalue() and "1.0h" in out.getvalue()
    out = io.StringIO()
    call_command("durable", "show", "cli-slow", stdout=out)
    assert "active    8.0s" in out.getvalue() and "parked    1.0h" in out.getvalue()
