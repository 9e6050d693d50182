"""A run an operator holds is not stranded: no executor takes it *by design* until it is
released, so undraining, serving its version or raising its queue's limit would not move it.
The untaken check (/health, the health page, durable_untaken_runs) must not count it, nor
offer a fix that does not apply (issue 24 "Health that matches reality"; issue 25 "Hold")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from durable import queues
from durable.models import Executor, Run
from durable.observability import _untaken as untaken
from tests.dashboard.conftest import make_run
from tests.monitoring.health_helpers import beat

pytestmark = pytest.mark.django_db


def _due(run_id: str, **fields) -> Run:
    waiting = {"status": "ENQUEUED", "available_at": timezone.now() - timedelta(seconds=30),
               "started_at": None, "finished_at": None}  # fmt: skip
    return make_run(id=run_id, **{**waiting, **fields})


def _held(run_id: str, **fields) -> Run:
    return _due(run_id, held_at=timezone.now(), hold_reason="stop hammering the provider",
                **fields)  # fmt: skip


def test_held_runs_behind_a_full_limit_are_not_counted_as_the_limit_s_doing():
    beat("ex-1", workflows=["shop.mail"])
    queues.set_limits("mail", concurrency=1, actor="ops")
    make_run(id="busy", workflow="shop.mail", queue="mail", status="RUNNING",
             executor_id="ex-1", finished_at=None)  # fmt: skip
    _due("waiting", workflow="shop.mail", queue="mail")
    for n in range(4):
        _held(f"held-{n}", workflow="shop.mail", queue="mail")
    [group] = untaken.untaken()
    assert (group.cause, group.count, group.run_ids) == ("concurrency", 1, ["waiting"])


def test_held_runs_are_not_stranded_by_a_drain():
    beat("ex-old", workflows=["shop.pay@v1"])
    Executor.objects.filter(id="ex-old").update(draining=True)
    _held("held-1", workflow="shop.pay", version="v1")
    assert untaken.untaken() == []


def test_health_is_not_degraded_by_held_runs_alone():
    beat("ex-old", workflows=["shop.pay@v1"])
    _held("held-1", workflow="shop.pay", version="v0")  # nobody serves v0, but it is held
    body = Client().get("/health").json()
    assert body["checks"]["untaken"]["ok"] and not body["checks"]["untaken"].get("degraded")
