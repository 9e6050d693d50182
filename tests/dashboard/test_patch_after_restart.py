"""'Edit output and continue' on a run another operator restarted or forked after the page
loaded is refused, saying what they did (docs/security.md, "Operators acting at once").
"""

from __future__ import annotations

from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from durable.models import Run
from tests.dashboard.conftest import make_failed_run


def _messages(response) -> str:
    return " ".join(str(message) for message in get_messages(response.wsgi_request))


def test_an_edit_and_continue_after_another_operators_restart_is_refused(owner, engine):
    run = make_failed_run()
    seen = timezone.now().isoformat()  # both pages loaded before either acted
    alice, bob = Client(), Client()
    alice.force_login(owner)
    bob.force_login(owner)
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
    alice, bob = Client(), Client()
    alice.force_login(owner)
    bob.force_login(owner)
    alice.post("/actions/fork/", {"run_id": run.id, "from_step": 1, "seen": seen})
    bob.post(
        "/actions/patch/",
        {"run_id": run.id, "position": 0, "output": '{"ok": 5}', "seen": seen},
    )
    assert Run.objects.filter(forked_from=run).count() == 1
