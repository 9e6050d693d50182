"""Triage on the Failures page: owner, acknowledgement, mute, ticket, notes — audited,
shown, and filterable (unowned, mine, muted); only operators change it."""

from __future__ import annotations

from django.urls import reverse

from durable.models import AuditEntry, FailureGroupTriage
from tests.dashboard.conftest import make_failed_run

GROUP = {
    "workflow": "shop.order",
    "step": "shop.step_1",
    "error_type": "shop.CardDeclined",
    "fingerprint": "fp-card",
}


def test_an_operator_triages_a_group_and_the_failures_page_shows_it(owner_client, owner):
    make_failed_run()
    response = owner_client.post(
        reverse("dashboard:failure_triage"),
        {
            **GROUP,
            "owner": "owner",
            "acknowledged": "on",
            "muted_until_version": "v2",
            "ticket_url": "https://tracker.example/T-1",
            "notes": "fixed in v2",
        },
    )
    assert response.status_code == 302
    triage = FailureGroupTriage.objects.get()
    assert triage.owner == "owner" and triage.acknowledged_by == "owner"
    audit = AuditEntry.objects.get(action="failure_group_triage")
    assert audit.detail["changes"]["muted_until_version"] == "v2"
    html = owner_client.get(reverse("dashboard:hotspots")).content.decode()
    assert "muted until version v2 ships" in html and "https://tracker.example/T-1" in html


def test_the_failures_page_filters_unowned_mine_and_muted(owner_client, viewer):
    make_failed_run()
    url = reverse("dashboard:hotspots")
    assert "shop.CardDeclined" in owner_client.get(url, {"triage": "unowned"}).content.decode()
    assert "No failures" in owner_client.get(url, {"triage": "mine"}).content.decode()
    owner_client.post(reverse("dashboard:failure_triage"), {**GROUP, "owner": "viewer"})
    assert "No failures" in owner_client.get(url, {"triage": "unowned"}).content.decode()
    assert "No failures" in owner_client.get(url, {"triage": "mine"}).content.decode()
    assert "No failures" in owner_client.get(url, {"triage": "muted"}).content.decode()
    owner_client.post(
        reverse("dashboard:failure_triage"),
        {**GROUP, "owner": "owner", "muted_until_version": "v9"},
    )
    assert "shop.CardDeclined" in owner_client.get(url, {"triage": "mine"}).content.decode()
    assert "shop.CardDeclined" in owner_client.get(url, {"triage": "muted"}).content.decode()


def test_viewers_cannot_triage(viewer_client):
    response = viewer_client.post(reverse("dashboard:failure_triage"), {**GROUP, "owner": "x"})
    assert response.status_code == 403
    assert not FailureGroupTriage.objects.exists()


def test_an_unknown_owner_or_a_bad_ticket_url_changes_nothing(owner_client):
    for bad in ({"owner": "nobody"}, {"ticket_url": "javascript:alert(1)"}, {"muted_until": "x"}):
        response = owner_client.post(reverse("dashboard:failure_triage"), {**GROUP, **bad})
        assert response.status_code == 302
    assert not FailureGroupTriage.objects.exists()


def test_the_incident_view_shows_the_group_and_its_triage(owner_client, viewer_client, settings):
    from durable.models import AlertIncident
    from durable.observability import alerting

    settings.DURABLE_EXECUTOR = "external"
    rule = alerting.save_rule(None, {"name": "r", "kind": "new_failure_group"}, actor="t")
    make_failed_run()
    alerting.evaluate(rule)
    incident = AlertIncident.objects.get()
    url = reverse("dashboard:alert_incident", args=[incident.id])
    html = viewer_client.get(url).content.decode()
    assert "shop.CardDeclined" in html and "Unowned" in html and "Save triage" not in html
    response = owner_client.post(
        reverse("dashboard:failure_triage"), {**GROUP, "owner": "owner", "incident": incident.id}
    )
    assert response.url == url
    assert "owner" in owner_client.get(url).content.decode()
    assert AuditEntry.objects.filter(action="failure_group_triage").count() == 1
