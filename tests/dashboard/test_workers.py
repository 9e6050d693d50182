"""The workers page: executors with liveness and queues with their depth."""

from __future__ import annotations

import pytest

from durable.models import Executor
from tests.dashboard.conftest import make_run

pytestmark = pytest.mark.django_db


def test_executors_and_queue_depths(viewer_client):
    Executor.objects.create(id="thread:host:1", kind="thread", hostname="host", pid=1)
    make_run(status="RUNNING", executor_id="thread:host:1", queue="emails", finished_at=None)
    make_run(status="ENQUEUED", queue="emails", started_at=None, finished_at=None)
    content = viewer_client.get("/workers/").content.decode()
    assert "thread:host:1" in content and "alive" in content
    assert "emails" in content


def test_empty_state(viewer_client):
    assert b"No executors have checked in." in viewer_client.get("/workers/").content


def test_htmx_refresh_is_the_partial(viewer_client):
    response = viewer_client.get("/workers/", headers={"HX-Request": "true"})
    assert response.content.decode().lstrip().startswith('<div id="live"')


def test_stranger_gets_403(stranger_client):
    assert stranger_client.get("/workers/").status_code == 403
