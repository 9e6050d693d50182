"""One-run actions under hostile input and concurrent operators."""

from __future__ import annotations

from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from durable.models import AuditEntry, Run
from tests.dashboard.conftest import make_failed_run


def _messages(response) -> str:
    return " ".join(str(message) for message in get_messages(response.wsgi_request))


def _two_operators(owner) -> tuple[Client, Client]:
    """Alice and Bob, logged in as the same operator, each with a page loaded."""
    alice, bob = Client(), Client()
    alice.force_login(owner)
    bob.force_login(owner)
    return alice, bob


def test_a_double_submitted_restart_makes_one_run_and_says_so(owner_client, engine):
    run = make_failed_run()
    form = {"run_id": run.id, "seen": timezone.now().isoformat()}
    first = owner_client.post("/actions/restart/", form)
    second = owner_client.post("/actions/restart/", form)
    assert Run.objects.filter(forked_from=run).count() == 1
    assert first["Location"] == second["Location"]
    assert "Already done by owner" in _messages(second)


def test_a_second_operator_is_told_what_the_first_did(owner, engine):
    run = make_failed_run()
    seen = timezone.now().isoformat()  # both pages loaded before either acted
    alice, bob = _two_operators(owner)
    alice.post("/actions/fork/", {"run_id": run.id, "from_step": 1, "seen": seen})
    answer = bob.post("/actions/restart/", {"run_id": run.id, "seen": seen})
    assert Run.objects.filter(forked_from=run).count() == 1
    text = _messages(answer)
    assert "Nothing changed: owner forked it at" in text and "after you loaded the page" in text


def test_hostile_run_ids_in_action_forms_are_a_400(owner_client, engine):
    run = make_failed_run()
    for action in ("resume", "restart", "cancel", "fork"):
        for bad in ("attacker/../victim", "x\ny", "a\x00b", "", "x" * 300):
            data = {"run_id": bad, "from_step": 0}
            assert owner_client.post(f"/actions/{action}/", data).status_code == 400
    assert Run.objects.count() == 1 and Run.objects.get().id == run.id


def test_a_fork_with_nan_infinity_or_1e400_is_refused_and_audited(owner_client, engine):
    run = make_failed_run()
    for edited in ('{"args": [NaN]}', '{"args": [Infinity]}', '{"kwargs": {"x": 1e400}}'):
        response = owner_client.post(
            "/actions/fork/", {"run_id": run.id, "from_step": 1, "input": edited}
        )
        assert response.status_code == 302 and "Nothing changed" in _messages(response)
    assert Run.objects.filter(forked_from=run).count() == 0
    entries = AuditEntry.objects.filter(action="fork")
    assert entries.count() == 3
    assert all("cannot be stored" in e.detail["refused"][run.id] for e in entries)


def test_deeply_nested_or_huge_edited_input_is_a_form_error(owner_client, engine):
    run = make_failed_run()
    deep = '{"args": ' + "[" * 100_000 + "]" * 100_000 + "}"
    for edited in (deep, '{"args": [' + "9" * 5000 + "]}"):
        response = owner_client.post(
            "/actions/fork/", {"run_id": run.id, "from_step": 1, "input": edited}
        )
        assert response.status_code == 302 and "Nothing changed" in _messages(response)
    assert Run.objects.count() == 1


def test_a_400_quoting_hostile_input_is_plain_text(owner_client, engine):
    answer = owner_client.post("/actions/restart/", {"run_id": "<img src=x onerror=alert(1)>"})
    assert answer.status_code == 400 and answer["Content-Type"].startswith("text/plain")


def test_an_edit_and_continue_after_another_operators_restart_is_refused(owner, engine):
    """docs/security.md, "Operators acting at once": the edit would fork a second new run."""
    run = make_failed_run()
    seen = timezone.now().isoformat()  # both pages loaded before either acted
    alice, bob = _two_operators(owner)
    alice.post("/actions/restart/", {"run_id": run.id, "seen": seen})
    answer = bob.post(
        "/actions/patch/",
        {"run_id": run.id, "position": 0, "output": '{"ok": 5}', "seen": seen},
    )
    assert Run.objects.filter(forked_from=run).count() == 1
    assert "Nothing changed: owner restarted it at" in _messages(answer)


def test_an_edit_and_continue_after_another_operators_fork_is_refused(owner, engine):
    run = make_failed_run()
    seen = timezone.now().isoformat()
    alice, bob = _two_operators(owner)
    alice.post("/actions/fork/", {"run_id": run.id, "from_step": 1, "seen": seen})
    bob.post(
        "/actions/patch/",
        {"run_id": run.id, "position": 0, "output": '{"ok": 5}', "seen": seen},
    )
    assert Run.objects.filter(forked_from=run).count() == 1


def test_a_resume_after_another_operators_restart_is_refused(owner, engine, settings):
    """The restart carries the work on; resuming the original too would do it twice."""
    settings.DURABLE_EXECUTOR = "external"
    run = make_failed_run()
    seen = timezone.now().isoformat()  # both pages loaded before either acted
    alice, bob = _two_operators(owner)
    alice.post("/actions/restart/", {"run_id": run.id, "seen": seen})
    answer = bob.post("/actions/resume/", {"run_id": run.id, "seen": seen})
    assert Run.objects.get(id=run.id).status == "ERROR"
    assert "Nothing changed" in _messages(answer)
