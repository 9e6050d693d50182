"""The alert Rules page: viewers see rules, operators change them (CSRF, audited), secrets
are never shown back, settings rules are read-only, and "Create an alert for this"
pre-fills kind and scope."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from durable.models import AlertRule, AuditEntry
from durable.observability import alerting
from tests.dashboard.conftest import make_failed_run

SECRET = "https://hooks.slack.com/services/T000/B000/very-secret-token-abcd"


def _rule(**fields) -> AlertRule:
    values = {"name": "pager", "kind": "new_failure_group", **fields}
    return alerting.save_rule(None, values, actor="tester")


def _form(**overrides) -> dict:
    data = {
        "name": "New failures in shop.order",
        "kind": "new_failure_group",
        "enabled": "on",
        "workflow": "shop.order",
        "renotify_seconds": "3600",
        "slack_url": SECRET,
    }
    data.update(overrides)
    return data


def test_viewers_see_rules_but_cannot_create_edit_delete_or_test_them(viewer_client):
    rule = _rule()
    assert viewer_client.get(reverse("dashboard:alerts")).status_code == 200
    assert viewer_client.get(reverse("dashboard:alert_rule", args=[rule.id])).status_code == 200
    assert viewer_client.get(reverse("dashboard:alert_new")).status_code == 403
    assert viewer_client.post(reverse("dashboard:alert_new"), _form()).status_code == 403
    edit = reverse("dashboard:alert_edit", args=[rule.id])
    assert viewer_client.post(edit, _form(name="x")).status_code == 403
    delete = reverse("dashboard:alert_delete", args=[rule.id])
    assert viewer_client.post(delete).status_code == 403
    assert viewer_client.post(reverse("dashboard:alert_test", args=[rule.id])).status_code == 403
    assert AlertRule.objects.get(id=rule.id).name == "pager"


def test_strangers_see_no_rules(stranger_client):
    assert stranger_client.get(reverse("dashboard:alerts")).status_code == 403


def test_an_operator_creates_a_rule_and_its_secret_is_never_shown_back(owner_client):
    response = owner_client.post(reverse("dashboard:alert_new"), _form())
    rule = AlertRule.objects.get()
    assert response.status_code == 302
    assert rule.destinations == [{"kind": "slack", "url": SECRET}]
    for page in ("dashboard:alerts", "dashboard:audit"):
        assert "very-secret-token" not in owner_client.get(reverse(page)).content.decode()
    for page in ("dashboard:alert_rule", "dashboard:alert_edit"):
        html = owner_client.get(reverse(page, args=[rule.id])).content.decode()
        assert "very-secret-token" not in html and "hooks.slack.com" in html
    audit = AuditEntry.objects.get(action="alert_rule_create")
    assert audit.actor == "owner" and "very-secret-token" not in str(audit.detail)


def test_editing_without_retyping_the_secret_keeps_it_and_a_dash_removes_it(owner_client):
    rule = _rule(destinations=[{"kind": "slack", "url": SECRET}])
    edit = reverse("dashboard:alert_edit", args=[rule.id])
    owner_client.post(edit, _form(name="pager", slack_url="", renotify_seconds="600"))
    rule.refresh_from_db()
    assert rule.renotify_seconds == 600 and rule.destinations == [{"kind": "slack", "url": SECRET}]
    owner_client.post(edit, _form(name="pager", slack_url="-"))
    rule.refresh_from_db()
    assert rule.destinations == []
    assert AuditEntry.objects.filter(action="alert_rule_update").count() == 2


def test_deleting_a_rule_is_audited(owner_client):
    rule = _rule()
    owner_client.post(reverse("dashboard:alert_delete", args=[rule.id]))
    assert not AlertRule.objects.exists()
    assert AuditEntry.objects.filter(action="alert_rule_delete", actor="owner").exists()


def test_actions_need_the_csrf_token(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(reverse("dashboard:alert_new"), _form()).status_code == 403
    assert not AlertRule.objects.exists()


def test_settings_rules_are_listed_and_read_only(owner_client, settings):
    settings.DURABLE_ALERT_RULES = [
        {
            "name": "from code",
            "kind": "runs_dead",
            "destinations": [{"kind": "webhook", "url": SECRET}],
        }
    ]
    html = owner_client.get(reverse("dashboard:alerts")).content.decode()
    assert "from code" in html and "very-secret-token" not in html
    rule = AlertRule.objects.get(name="from code")
    owner_client.post(reverse("dashboard:alert_edit", args=[rule.id]), _form(name="changed"))
    owner_client.post(reverse("dashboard:alert_delete", args=[rule.id]))
    rule.refresh_from_db()
    assert rule.name == "from code" and rule.kind == "runs_dead"


def test_create_an_alert_for_this_prefills_kind_and_scope(owner_client):
    make_failed_run()
    html = owner_client.get(reverse("dashboard:hotspots")).content.decode()
    assert "Create an alert for this" in html
    page = owner_client.get(
        reverse("dashboard:alert_new"),
        {"kind": "queue_wait", "queue": "emails", "threshold": "300"},
    ).content.decode()
    assert 'value="queue_wait" selected' in page and 'value="emails"' in page


def test_hostile_rule_input_is_a_form_error_not_a_500(owner_client):
    for bad in (
        _form(kind="nope"),
        _form(slack_url="javascript:alert(1)"),
        _form(tag="no-equals"),
        _form(renotify_seconds="-5"),
        _form(threshold="1e999"),
        _form(email_to="not an address"),
    ):
        response = owner_client.post(reverse("dashboard:alert_new"), bad)
        assert response.status_code == 200, bad
    assert not AlertRule.objects.exists()
    assert owner_client.get(reverse("dashboard:alert_rule", args=[99999])).status_code == 404
