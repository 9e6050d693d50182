"""Failure-group triage over the API, as the Failures page's form: owner, acknowledgement,
mute until a time or a version, ticket, notes. Only the fields sent change; an operate
token is needed; each change is audited naming the token's user; a bad field is named."""

from __future__ import annotations

import pytest

from durable.models import AuditEntry, FailureGroupTriage
from tests.dashboard.conftest import make_failed_run

pytestmark = pytest.mark.django_db

GROUP = {
    "workflow": "shop.order",
    "step": "shop.step_1",
    "error_type": "shop.CardDeclined",
    "fingerprint": "fp-card",
}
PATH = "/failures/actions/triage"


def test_an_operate_token_triages_a_group_audited_as_its_user(operator_api, operate_token):
    make_failed_run()
    body = {**GROUP, "owner": "owner", "acknowledged": True, "muted_until_version": "v2",
            "ticket_url": "https://tracker.example/T-1", "notes": "fixed in v2"}  # fmt: skip
    response = operator_api.post(PATH, body)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["owner"] == "owner" and answer["muted_until_version"] == "v2"
    assert answer["acknowledged_by"] == f"owner via API token {operate_token.token.prefix}"
    triage = FailureGroupTriage.objects.get()
    assert triage.ticket_url == "https://tracker.example/T-1" and triage.acknowledged_at
    entry = AuditEntry.objects.get(action="failure_group_triage")
    assert entry.actor == f"owner via API token {operate_token.token.prefix}"
    assert entry.detail["changes"]["notes"] == "fixed in v2"


def test_only_the_fields_sent_change(operator_api):
    operator_api.post(PATH, {**GROUP, "owner": "owner", "notes": "looking"})
    response = operator_api.post(PATH, {**GROUP, "muted_until": "2099-01-01T00:00:00Z"})
    assert response.status_code == 200, response.content
    triage = FailureGroupTriage.objects.get()
    assert (triage.owner, triage.notes) == ("owner", "looking")
    assert triage.muted_until.year == 2099
    unmute = operator_api.post(PATH, {**GROUP, "muted_until": None})
    assert unmute.status_code == 200 and FailureGroupTriage.objects.get().muted_until is None


def test_the_failures_list_shows_each_groups_triage(operator_api, view_api):
    make_failed_run()
    operator_api.post(PATH, {**GROUP, "owner": "owner"})
    group = view_api.get("/failures").json()[0]
    assert group["triage"]["owner"] == "owner"


def test_a_view_token_cannot_triage(view_api):
    response = view_api.post(PATH, {**GROUP, "owner": "owner"})
    assert response.status_code == 403
    assert not FailureGroupTriage.objects.exists()


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"owner": "nobody"}, "owner"),
        ({"ticket_url": "javascript:alert(1)"}, "ticket_url"),
        ({"muted_until": "soon"}, "muted_until"),
        ({"fingerprint": ""}, "fingerprint"),
        ({"notes": "x" * 5001}, "notes"),
    ],
)
def test_bad_input_changes_nothing_and_names_the_field(operator_api, bad, field):
    response = operator_api.post(PATH, {**GROUP, **bad})
    assert response.status_code == 400, response.content
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert not FailureGroupTriage.objects.exists() and not AuditEntry.objects.exists()


def test_the_same_triage_sent_twice_is_audited_once(operator_api):
    body = {**GROUP, "owner": "owner", "acknowledged": True}
    operator_api.post(PATH, body)
    again = operator_api.post(PATH, body)
    assert again.status_code == 200
    assert AuditEntry.objects.filter(action="failure_group_triage").count() == 1
