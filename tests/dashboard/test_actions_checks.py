"""The run page's actions refuse what the engine refuses, and say why on the page."""

from __future__ import annotations

import html

import pytest

import durable
from durable.models import AuditEntry, Run
from tests.dashboard.conftest import wait_until_finished
from tests.dashboard.workflows import order


@pytest.fixture
def failed_order(engine) -> str:
    handle = durable.start(order, 8, True, run_id="order-8")
    assert wait_until_finished(handle.run_id) == "ERROR"
    return handle.run_id


def test_fork_past_the_failed_step_is_refused_with_the_allowed_steps(owner_client, failed_order):
    response = owner_client.post(
        "/actions/fork/", {"run_id": failed_order, "from_step": 2}, follow=True
    )
    assert response.status_code == 200
    assert "between 0 and 1" in response.content.decode()
    assert Run.objects.count() == 1


def test_fork_with_input_that_misses_a_parameter_says_which(owner_client, failed_order):
    response = owner_client.post(
        "/actions/fork/",
        {"run_id": failed_order, "from_step": 1, "input": '{"args": [], "kwargs": {}}'},
        follow=True,
    )
    assert response.status_code == 200
    assert "missing a required argument: 'order_id'" in html.unescape(response.content.decode())
    assert Run.objects.count() == 1
    assert AuditEntry.objects.get(action="fork").detail["refused"]


def test_resume_of_an_unserved_version_is_refused_and_a_fork_is_offered(owner_client, failed_order):
    Run.objects.filter(id=failed_order).update(version="0ld0ld0ld0ld")
    response = owner_client.post("/actions/resume/", {"run_id": failed_order}, follow=True)
    page = html.unescape(response.content.decode())
    assert "no live executor runs version '0ld0ld0ld0ld'" in page
    assert "Fork onto the current code from step 1" in page
    assert Run.objects.get(id=failed_order).status == "ERROR"
    response = owner_client.post("/actions/fork/", {"run_id": failed_order, "from_step": 1})
    new_id = response["Location"].split("/")[-2]
    assert Run.objects.get(id=new_id).forked_from_id == failed_order
