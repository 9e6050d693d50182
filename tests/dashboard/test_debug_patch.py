""" "Edit output and continue" on the run page: a fork with one recorded output replaced."""

from __future__ import annotations

import json

import pytest

import durable
from durable.models import AuditEntry, Run, Step
from tests.dashboard.conftest import make_failed_run, wait_until_finished
from tests.engine import debug_workflows

SMALL_QUOTE = {"order": "o-w", "amount": 80, "currency": "EUR"}


@pytest.fixture
def failed_checkout(engine) -> str:
    handle = durable.start(debug_workflows.checkout, "o-w", run_id="web-1")
    assert wait_until_finished(handle.run_id) == "ERROR"
    return handle.run_id


def test_each_recorded_step_offers_edit_output_and_continue(owner_client, failed_checkout):
    page = owner_client.get(f"/runs/{failed_checkout}/").content.decode()
    assert page.count("Edit output and continue") == 2
    form = owner_client.get(f"/edit-output/0/{failed_checkout}").content.decode()
    assert "&quot;amount&quot;: 120" in form and "will execute again" in form
    assert "it is not idempotent" in form  # charge_payment runs again


def test_edited_output_forks_and_continues_marked_and_audited(owner_client, failed_checkout):
    response = owner_client.post(
        "/actions/patch/",
        {"run_id": failed_checkout, "position": 0, "output": json.dumps(SMALL_QUOTE)},
    )
    fork = Run.objects.get(forked_from_id=failed_checkout)
    assert response.status_code == 302 and response.url == f"/runs/{fork.id}/"
    assert wait_until_finished(fork.id) == "SUCCESS"
    assert Step.objects.get(run=fork, position=0).patched
    page = owner_client.get(f"/runs/{fork.id}/").content.decode()
    assert "patched</span>" in page
    change = AuditEntry.objects.get(action="fork").detail["patch"][failed_checkout]["0"]
    assert change["old"]["amount"] == 120 and change["new"] == SMALL_QUOTE
    assert AuditEntry.objects.get(action="fork").actor == "owner"


def test_output_that_is_not_json_shows_a_message_and_changes_nothing(owner_client, engine):
    make_failed_run(id="r-1")
    response = owner_client.post(
        "/actions/patch/", {"run_id": "r-1", "position": 0, "output": "{'single': quotes}"}
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.content.decode()
    assert Run.objects.count() == 1


def test_a_refused_patch_is_a_message_not_a_500(owner_client, engine):
    make_failed_run(id="r-1")
    response = owner_client.post(
        "/actions/patch/", {"run_id": "r-1", "position": 7, "output": "{}"}, follow=True
    )
    assert response.status_code == 200
    assert "Nothing changed: run r-1: it has no recorded step 7" in response.content.decode()
    assert Run.objects.count() == 1


def test_an_edited_output_the_engine_cannot_store_is_shown_on_the_form_kept(
    owner_client, failed_checkout, settings
):
    """What was typed is wrong, not the run: the form comes back with the engine's words
    at the output and the text as typed, instead of the run page and the text lost."""
    settings.DURABLE_MAX_PAYLOAD_BYTES = 1000
    typed = json.dumps({"note": "x" * 2000})
    response = owner_client.post(
        "/actions/patch/", {"run_id": failed_checkout, "position": 0, "output": typed}
    )
    assert response.status_code == 400
    assert "DURABLE_MAX_PAYLOAD_BYTES" in " ".join(response.context["form"].errors["output"])
    page = response.content.decode()
    assert "Nothing changed: patched output of step 0" in page and "x" * 2000 in page
    assert not Run.objects.filter(forked_from_id=failed_checkout).exists()


def test_viewers_cannot_edit_outputs(viewer_client, engine):
    make_failed_run(id="r-1")
    assert viewer_client.get("/edit-output/0/r-1").status_code == 403
    response = viewer_client.post(
        "/actions/patch/", {"run_id": "r-1", "position": 0, "output": "1"}
    )
    assert response.status_code == 403 and Run.objects.count() == 1
