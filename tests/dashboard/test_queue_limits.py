"""The workers page shows stored queue limits; operators override and reset them there."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from durable.models import AuditEntry
from durable.queues import _limits as queue_limits
from durable.queues._limits import Limits
from tests.tiers import examples

pytestmark = pytest.mark.django_db

SET = "/actions/queue-limits/"
RESET = "/actions/queue-limits/reset/"


@pytest.fixture
def payments(db):
    queue_limits.declare(Limits("payments", concurrency=4, rate_limit=(50, 60.0)), "shop.queues")
    return "payments"


def form(**fields):
    return {"name": "payments", "concurrency": "4", "worker_concurrency": "",
            "rate_count": "50", "rate_seconds": "60", "reason": "", **fields}  # fmt: skip


def test_the_workers_page_shows_stored_limits_and_their_source(viewer_client, payments):
    content = viewer_client.get("/workers/").content.decode()
    assert 'id="queue-limits"' in content
    assert "50 per 60 s" in content and "shop.queues" in content
    assert "Change the limits" not in content  # a viewer gets no form


def test_an_operator_sees_the_edit_form(owner_client, payments):
    content = owner_client.get("/workers/").content.decode()
    assert "Change the limits of payments" in content and "csrfmiddlewaretoken" in content


def test_an_operator_overrides_limits_and_it_is_audited_as_them(owner_client, owner, payments):
    response = owner_client.post(SET, form(concurrency="2", rate_count="", rate_seconds="",
                                           reason="vendor outage"))  # fmt: skip
    assert response.status_code == 302
    assert queue_limits.stored("payments") == Limits("payments", concurrency=2)
    entry = AuditEntry.objects.get(action="queue_set_limits")
    assert (entry.actor, entry.detail["reason"]) == (owner.username, "vendor outage")
    assert "override by" in owner_client.get("/workers/").content.decode()


def test_reset_returns_to_the_declared_limits(owner_client, payments):
    owner_client.post(SET, form(concurrency="1"))
    owner_client.post(RESET, {"name": "payments"})
    assert queue_limits.stored("payments").concurrency == 4
    assert AuditEntry.objects.filter(action="queue_reset_limits").count() == 1


def test_a_rate_needs_both_runs_and_seconds(owner_client, payments):
    response = owner_client.post(SET, form(rate_seconds=""), follow=True)
    assert "needs both runs and seconds" in response.content.decode()
    assert queue_limits.stored("payments").rate_limit == (50, 60.0)


def test_a_queue_that_is_not_stored_is_refused(owner_client, payments):
    response = owner_client.post(SET, form(name="elsewhere"), follow=True)
    assert "no queue elsewhere is stored" in response.content.decode()
    assert queue_limits.stored("elsewhere") is None


def test_a_viewer_cannot_change_limits(viewer_client, payments):
    assert viewer_client.post(SET, form(concurrency="1")).status_code == 403
    assert queue_limits.stored("payments").concurrency == 4


def test_changing_limits_is_post_only(owner_client, payments):
    assert owner_client.get(SET).status_code == 405


def test_changing_limits_requires_csrf(owner, payments):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(SET, form(concurrency="1")).status_code == 403
    assert queue_limits.stored("payments").concurrency == 4


FIELD_VALUES = st.one_of(st.text(max_size=12), st.integers().map(str),
                         st.floats(allow_nan=True, allow_infinity=True).map(str))  # fmt: skip


@settings(max_examples=examples(80), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(fields=st.dictionaries(
    st.sampled_from(["name", "concurrency", "worker_concurrency", "rate_count",
                     "rate_seconds", "priority", "reason"]), FIELD_VALUES))  # fmt: skip
def test_no_input_answers_a_server_error(owner_client, payments, fields):
    # 302 back to the workers page with a message; 400 for a NUL (refused by middleware)
    assert owner_client.post(SET, fields).status_code in (302, 400)
    assert owner_client.post(RESET, fields).status_code in (302, 400)
