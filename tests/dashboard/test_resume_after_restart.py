"""A resume of a run another operator restarted after the page loaded: docs/security.md says
"an action on a run another operator restarted or forked since the page loaded is refused
with what they did"."""

from __future__ import annotations

from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from durable.models import Run
from tests.dashboard.conftest import make_failed_run


def _messages(response) -> str:
    return " ".join(str(message) for message in get_messages(response.wsgi_request))


def test_a_resume_after_another_operators_restart_is_refused(owner, engine, settings):
    settings.DURABLE_EXECUTOR = "external"
    run = make_failed_run()
    seen = timezone.now().isoformat()  # both pages loaded before either acted
    alice, bob = Client(), Client()
    alice.force_login(owner)
    bob.force_login(owner)
    alice.post("/actions/restart/", {"run_id": run.id, "seen": seen})
    answer = bob.post("/actions/resume/", {"run_id": run.id, "seen": seen})
    assert Run.objects.get(id=run.id).status == "ERROR"  # the work goes on in one run only
    assert "Nothing changed" in _messages(answer)
