"""A held run's "Why isn't it moving?" says it is held (and that a release lets it go on),
not that it waits for its queue's limit and would start at the queue's pace: a held run is
never claimed until released (issue 25 "held ... shown as held everywhere"; issue 24 item 3)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from durable import queues
from tests.dashboard.conftest import make_run
from tests.monitoring.health_helpers import beat

pytestmark = pytest.mark.django_db


def test_a_held_run_s_page_says_it_is_held_not_when_it_would_start(owner_client):
    beat("ex-1", workflows=["shop.order"])
    queues.set_limits("mail", concurrency=1, actor="ops")
    make_run(id="busy", queue="mail", status="RUNNING", executor_id="ex-1", finished_at=None,
             claimed_at=timezone.now())  # fmt: skip
    make_run(id="target", status="ENQUEUED", queue="mail", started_at=None, finished_at=None,
             available_at=timezone.now() - timedelta(seconds=60), held_at=timezone.now(),
             hold_reason="stop hammering the provider")  # fmt: skip
    page = owner_client.get("/runs/target/").content.decode()
    why = page[page.index('id="waiting"') :]
    why = why[: why.index("</div>")]
    assert "held" in why.lower() and "release" in why.lower(), why
    assert "concurrency limit" not in why, why
    assert "it would start in about" not in page
