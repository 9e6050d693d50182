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
