"""'Why isn't it moving?' counts only runs a claim takes before this one: a held run is never
claimed, so it is not ahead (issue 24: runs ahead in claim order)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from durable import queues
from durable.core import store
from durable.models import Run
from tests.dashboard.conftest import make_run

pytestmark = pytest.mark.django_db


def _waiting(run_id: str, seconds_ago: float, **fields) -> Run:
    due = timezone.now() - timedelta(seconds=seconds_ago)
    return make_run(id=run_id, status="ENQUEUED", queue="default", available_at=due,
                    started_at=None, finished_at=None, **fields)  # fmt: skip


def test_held_runs_are_not_counted_ahead_of_a_waiting_run():
    for n in range(4):
        _waiting(f"held-{n}", 200 - n, held_at=timezone.now(), hold_reason="incident")
    _waiting("plain", 150)
    _waiting("target", 100)
    claim_order = [i for i in store.due_runs(["shop.order"], 1000)
                   if Run.objects.get(id=i).queue == "default"]  # fmt: skip
    assert claim_order.index("target") == 1
    assert queues.runs_ahead("target") == 1


def test_the_run_page_does_not_count_held_runs_ahead(owner_client):
    for n in range(4):
        _waiting(f"held-{n}", 200 - n, held_at=timezone.now(), hold_reason="incident")
    _waiting("target", 100)
    page = owner_client.get("/runs/target/").content.decode()
    assert '<li id="runs-ahead"><strong>0</strong> runs ahead' in page
