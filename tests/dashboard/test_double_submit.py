"""A form sent twice (a double click, a browser retry, a script without the page's `seen`
field) acts once: one fork, one restart, one triggered run; the repeat says so."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import RequestFactory

import durable
from dashboard import idempotency
from durable.models import AuditEntry, Run
from tests.dashboard.conftest import make_failed_run, wait_until_finished
from tests.dashboard.test_schedules_panel import two_schedules  # noqa: F401 - fixture
from tests.engine import debug_workflows

CHEAPER = json.dumps({"order": "o-w", "amount": 80, "currency": "EUR"})


@pytest.fixture
def failed_checkout(engine, side_effects) -> str:
    handle = durable.start(debug_workflows.checkout, "o-w", run_id="web-1")
    assert wait_until_finished(handle.run_id) == "ERROR"
    assert side_effects("o-w")["charge_payment"] == 1
    return handle.run_id


@pytest.mark.parametrize("with_seen", [True, False])
def test_an_edited_output_sent_twice_forks_once_and_charges_once(
    owner_client, failed_checkout, side_effects, with_seen
):
    form = {"run_id": failed_checkout, "position": 0, "output": CHEAPER}
    if with_seen:
        page = owner_client.get(f"/edit-output/0/{failed_checkout}").content.decode()
        assert 'name="seen"' in page
        form["seen"] = "2026-12-06T10:00:00+00:00"
    first = owner_client.post("/actions/patch/", form)
    second = owner_client.post("/actions/patch/", form, follow=True)
    forks = Run.objects.filter(forked_from_id=failed_checkout)
    assert forks.count() == 1
    assert first.url == second.redirect_chain[-1][0] == f"/runs/{forks.get().id}/"
    assert "this form was sent twice" in second.content.decode()
    assert wait_until_finished(forks.get().id) == "SUCCESS"
    assert side_effects("o-w")["charge_payment"] == 2  # the original's and the fork's


def test_two_different_edits_are_two_forks(owner_client, failed_checkout):
    for amount in (80, 90):
        output = json.dumps({"order": "o-w", "amount": amount, "currency": "EUR"})
        owner_client.post(
            "/actions/patch/", {"run_id": failed_checkout, "position": 0, "output": output}
        )
    assert Run.objects.filter(forked_from_id=failed_checkout).count() == 2


def test_a_restart_posted_twice_without_the_page_field_makes_one_run(owner_client, engine):
    run = make_failed_run(id="r-1")
    owner_client.post("/actions/restart/", {"run_id": run.id})
    second = owner_client.post("/actions/restart/", {"run_id": run.id}, follow=True)
    assert Run.objects.exclude(id=run.id).count() == 1
    assert "this form was sent twice" in second.content.decode()
    assert AuditEntry.objects.filter(action="restart").count() == 1


def test_a_restart_with_another_input_is_another_restart(owner_client, engine):
    run = make_failed_run(id="r-1")
    owner_client.post("/actions/restart/", {"run_id": run.id})
    owner_client.post("/actions/restart/", {"run_id": run.id, "queue": "other"})
    assert Run.objects.exclude(id=run.id).count() == 2


def test_a_fork_posted_twice_without_the_page_field_makes_one_run(owner_client, engine):
    run = make_failed_run(id="r-1")
    for _ in range(2):
        owner_client.post("/actions/fork/", {"run_id": run.id, "from_step": 1})
    assert Run.objects.filter(forked_from_id=run.id).count() == 1


def test_a_trigger_posted_twice_without_the_page_field_starts_one_run(
    two_schedules,  # noqa: F811 - the fixture imported above
    owner_client,
):
    for _ in range(2):
        owner_client.post("/actions/schedule/trigger/", {"name": "api-hourly"})
    assert Run.objects.filter(id__startswith="api-hourly@manual-").count() == 1


def test_a_double_click_across_a_window_edge_is_one_request(owner):
    request = RequestFactory().post("/actions/restart/")
    request.user = owner
    edge = datetime(2026, 12, 6, 10, 1, tzinfo=UTC)

    def request_id(at: timedelta, used: set[str]) -> str:
        return idempotency.request_id(
            request, "restart", ["r-1"], None, acted_on=used.__contains__, now=edge + at
        )

    first = request_id(timedelta(seconds=-0.2), set())
    assert request_id(timedelta(seconds=0.1), {first}) == first
    assert request_id(timedelta(seconds=61), {first}) != first  # a minute on: a new request
    assert request_id(timedelta(seconds=0.1), set()) != first  # the first was never acted on
