"""The incident view's "last success before it" is a run that succeeded before the group
began, not one of the group's own failing runs that was resumed and succeeded since."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.queries import incident as queries
from durable.models import Run
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
