"""Failure hotspots: grouped failures with counts, trend, affected runs and bulk links."""

from __future__ import annotations

import pytest
from django.utils import timezone

from dashboard.queries.hotspots import hotspots
from tests.dashboard.conftest import HOSTILE, make_failed_run

pytestmark = pytest.mark.django_db


def test_failures_group_by_workflow_step_and_fingerprint(db):
    for order in range(3):
        make_failed_run(message=f"card declined for order {order}")
    make_failed_run(workflow="ml.train")
    now = timezone.now()
    groups = hotspots(now - timezone.timedelta(hours=1), now)
    assert [(g["workflow"], g["failures"], g["runs"]) for g in groups] == [
        ("shop.order", 3, 3),
        ("ml.train", 1, 1),
    ]
    assert sum(groups[0]["trend"]) == 3 and len(groups[0]["trend"]) == 24
    assert groups[0]["message"].startswith("card declined")


def test_owner_sees_affected_runs_and_bulk_links(owner_client):
    make_failed_run()
    content = owner_client.get("/failures/").content.decode()
    assert "Affected runs" in content
    assert "/bulk/?action=resume&scope=matching" in content
    assert "fingerprint=fp-card" in content


def test_viewer_sees_no_bulk_links(viewer_client):
    make_failed_run()
    content = viewer_client.get("/failures/").content.decode()
    assert "Affected runs" in content and "Resume all" not in content


def test_no_failures_is_an_empty_state(viewer_client):
    assert b"No failures in the last 24h" in viewer_client.get("/failures/").content


def test_stranger_gets_403(stranger_client):
    assert stranger_client.get("/failures/").status_code == 403


def test_hostile_messages_are_escaped(viewer_client):
    make_failed_run(message=HOSTILE, workflow=HOSTILE)
    content = viewer_client.get("/failures/").content.decode()
    assert HOSTILE not in content and "&lt;script&gt;" in content


def _resume(run_id: str) -> None:
    """What a resume leaves behind: the failed checkpoint dropped, its attempts kept."""
    from durable.models import Run, Step

    Step.objects.filter(run_id=run_id, status="ERROR").delete()
    Run.objects.filter(id=run_id).update(status="SUCCESS", error=None, error_type="")


def test_resolving_part_of_a_group_keeps_its_first_seen_and_trend(db):
    runs = [make_failed_run(message=f"card declined for order {n}") for n in range(3)]
    now = timezone.now()
    before = hotspots(now - timezone.timedelta(hours=1), now)[0]
    _resume(runs[0].id)
    after = hotspots(now - timezone.timedelta(hours=1), now)[0]
    assert after["first_seen"] == before["first_seen"]
    assert sum(after["trend"]) == sum(before["trend"]) and after["failures"] == 3
    assert (after["still_failed"], after["resolved"]) == (2, 1)


def test_a_run_forked_to_success_is_superseded(owner_client):
    from tests.dashboard.conftest import make_run

    failed = make_failed_run(id="bad")
    make_run(id="good-fork", forked_from=failed, forked_from_step=1, status="SUCCESS")
    now = timezone.now()
    [group] = hotspots(now - timezone.timedelta(hours=1), now)
    assert (group["still_failed"], group["superseded"]) == (0, 1)
    assert "superseded by good-fork" in owner_client.get("/runs/bad/").content.decode()
    assert "superseded" in owner_client.get("/?status=ERROR").content.decode()


def test_the_trend_fits_the_data_and_shows_its_scale(viewer_client):
    make_failed_run()
    content = viewer_client.get("/failures/?window=7d").content.decode()
    assert "peak 1 /" in content
    now = timezone.now()
    [group] = hotspots(now - timezone.timedelta(days=7), now)
    assert group["bucket"] < timezone.timedelta(minutes=5)  # not 7 days / 24


def test_the_fingerprint_filter_shows_on_the_runs_list(viewer_client):
    make_failed_run()
    content = viewer_client.get("/?fingerprint=fp-card").content.decode()
    assert 'id="fingerprint-filter"' in content and "fp-card" in content
