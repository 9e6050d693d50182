"""The health page's cron schedules: code and API schedules with their state, and
pause / resume / trigger buttons for operators (POST + CSRF + permission, audited)."""

from __future__ import annotations

import pytest
from django.test import Client

import durable
from durable.models import AuditEntry, Run, Schedule
from durable.schedules import _declared as declared_schedules
from tests.engine.test_dynamic_schedules import ping  # registers tests.dyn.ping


@pytest.fixture
def two_schedules(monkeypatch, settings, transactional_db):
    """An API schedule, active, and a code schedule, paused; no executor runs what starts."""
    monkeypatch.setattr(declared_schedules, "_schedules", {})
    settings.DURABLE_EXECUTOR = "external"
    durable.schedules.create("api-hourly", ping, cron="0 * * * *")
    durable.scheduled("0 3 * * *", name="tests.panel.nightly")(ping.__wrapped__)
    Schedule.objects.create(name="tests.panel.nightly", workflow="tests.panel.nightly",
                            cron="0 3 * * *", paused=True, missed_ticks=4)  # fmt: skip
    AuditEntry.objects.all().delete()


def schedule_row(page: str, name: str) -> str:
    rows = page[page.index('id="schedules"') :]
    start = rows.index(f'data-schedule="{name}"')
    return rows[start : rows.index("</tr>", start)]


def test_operators_see_each_schedule_with_its_state_and_buttons(two_schedules, owner_client):
    page = owner_client.get("/system/").content.decode()
    api_row = schedule_row(page, "api-hourly")
    assert "0 * * * *" in api_row and ">api<" in api_row and ">active<" in api_row
    assert ">Pause</button>" in api_row and ">Trigger now</button>" in api_row
    code_row = schedule_row(page, "tests.panel.nightly")
    assert ">code<" in code_row and ">paused<" in code_row and '<td class="num">4</td>' in code_row
    assert ">Resume</button>" in code_row


def test_viewers_see_schedules_without_buttons_and_cannot_act(two_schedules, viewer_client):
    page = viewer_client.get("/system/").content.decode()
    assert "api-hourly" in page and "Trigger now" not in page and ">Pause<" not in page
    for action in ("pause", "resume", "trigger"):
        response = viewer_client.post(f"/actions/schedule/{action}/", {"name": "api-hourly"})
        assert response.status_code == 403
    assert not Schedule.objects.get(name="api-hourly").paused and not Run.objects.exists()


def test_pause_and_resume_buttons_change_the_schedule_and_are_audited(two_schedules, owner_client):
    response = owner_client.post("/actions/schedule/pause/", {"name": "api-hourly"}, follow=True)
    assert "Paused schedule api-hourly" in response.content.decode()
    assert Schedule.objects.get(name="api-hourly").paused
    owner_client.post("/actions/schedule/resume/", {"name": "tests.panel.nightly"})
    assert not Schedule.objects.get(name="tests.panel.nightly").paused
    entries = AuditEntry.objects.order_by("id")
    assert [(e.actor, e.action, e.detail["schedule"]) for e in entries] == [
        ("owner", "schedule.pause", "api-hourly"),
        ("owner", "schedule.resume", "tests.panel.nightly"),
    ]
    audit = owner_client.get("/audit/").content.decode()
    assert 'schedule.pause</span> <span class="mono">api-hourly</span>' in audit


def test_trigger_starts_one_run_even_when_the_form_is_sent_twice(two_schedules, owner_client):
    form = {"name": "api-hourly", "seen": "2026-11-29T10:00:00+00:00"}
    response = owner_client.post("/actions/schedule/trigger/", form, follow=True)
    owner_client.post("/actions/schedule/trigger/", form)
    run = Run.objects.get()
    assert run.id.startswith("api-hourly@manual-") and run.workflow == "tests.dyn.ping"
    assert f'href="/runs/{run.id}/"' in response.content.decode()


def test_a_refused_action_says_why_and_changes_nothing(two_schedules, owner_client):
    response = owner_client.post("/actions/schedule/pause/", {"name": "gone"}, follow=True)
    assert "Nothing changed: no schedule named &#x27;gone&#x27;" in response.content.decode()
    refusal = AuditEntry.objects.get()  # only the refusal is on the record, as the operator's
    assert (refusal.actor, refusal.action) == ("owner", "schedule.pause")
    assert "no schedule named" in refusal.detail["refused"]["gone"]


def test_schedule_actions_need_post_and_a_csrf_token(two_schedules, owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.get("/actions/schedule/pause/?name=api-hourly").status_code == 405
    assert client.post("/actions/schedule/pause/", {"name": "api-hourly"}).status_code == 403
    token = client.get("/system/").cookies["csrftoken"].value
    form = {"name": "api-hourly", "csrfmiddlewaretoken": token}
    assert client.post("/actions/schedule/pause/", form).status_code == 302
    assert Schedule.objects.get(name="api-hourly").paused
