"""The engine records a run's active time with its final status, in the same statement."""

from __future__ import annotations

import pytest

import durable
from durable.models import Run
from tests.dashboard.conftest import wait_until_finished
from tests.dashboard.workflows import order


@pytest.mark.django_db(transaction=True)
def test_a_finished_run_records_its_active_time(engine):
    durable.start(order, 5, True, run_id="active-1")
    assert wait_until_finished("active-1") == "ERROR"
    run = Run.objects.get(id="active-1")
    wall = (run.finished_at - run.started_at).total_seconds() * 1000
    assert run.active_ms is not None and 0 < run.active_ms <= wall
