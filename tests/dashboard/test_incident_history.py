"""The incident view's "when it began" reads history, not what happens to be alive now: a
deploy stays a deploy after its executors restart, and the last success before the group
began is a run that succeeded before it, not a failing run resumed since."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.queries import incident as queries
from durable.models import Attempt, Executor, Run
from tests.dashboard.conftest import make_failed_run, make_run

pytestmark = pytest.mark.django_db

KEY = queries.GroupKey("shop.order", "shop.step_1", "shop.CardDeclined", "fp-card")


def _group() -> dict:
    now = timezone.now()
    found = queries.incident(KEY, now - timedelta(days=1), now)
    assert found is not None
    return found


def test_the_last_success_before_the_group_is_not_a_failing_run_resumed_since():
    make_run(version="v1", created_at=timezone.now() - timedelta(hours=2),
             finished_at=timezone.now() - timedelta(hours=2))  # fmt: skip
    first = make_failed_run(version="v2", created_at=timezone.now() - timedelta(minutes=10))
    # the first failing run was resumed and succeeded a minute ago
    Run.objects.filter(id=first.id).update(status="SUCCESS", finished_at=timezone.now())
    make_failed_run(version="v2")
    assert _group()["last_good_version"] == "v1"


def test_a_deploy_before_the_first_failure_is_still_named_after_its_executors_restart():
    # v2 went out 5 minutes ago and failed at once; its executors restarted since (a clean
    # shutdown forgets an executor's row), so the live ones started after the failure
    make_run(version="v1", created_at=timezone.now() - timedelta(hours=1))
    failed = make_failed_run(version="v2")
    four_minutes_ago = timezone.now() - timedelta(minutes=4)
    Run.objects.filter(id=failed.id).update(created_at=four_minutes_ago)
    Attempt.objects.filter(run_id=failed.id).update(finished_at=four_minutes_ago)
    Executor.objects.create(id="restarted", kind="thread", hostname="h", pid=2,
                            workflows=["shop.order@v2"],
                            started_at=timezone.now() - timedelta(seconds=30))  # fmt: skip
    group = _group()
    assert group["first_version"] == "v2"
    assert group["deploy"] is not None


def test_a_success_that_caught_a_step_failure_is_still_a_success_before_the_group():
    good = make_run(version="v1", created_at=timezone.now() - timedelta(hours=2),
                    finished_at=timezone.now() - timedelta(hours=2))  # fmt: skip
    Attempt.objects.create(run=good, position=1, attempt=1, name="shop.step_1", final=True,
                           error={"type": "x", "message": "caught"}, error_type="x",
                           started_at=good.created_at, finished_at=good.created_at)  # fmt: skip
    make_failed_run(version="v2")
    assert _group()["last_good_version"] == "v1"
