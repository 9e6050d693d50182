"""'Where is it now?' on the run page: the live stack of a running step, asked of its owner
and polled for; local variables for operators only."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

import durable
from durable import operations
from durable.models import Run, RunStatus, StackRequest
from tests.dashboard.conftest import HOSTILE, make_run
from tests.engine.celery_workflows import answer_at_once, paying
from tests.engine.processes import wait_for

pytestmark = pytest.mark.usefixtures("engine")


def start_paying(run_id: str) -> None:
    durable.start(paying, run_id, 30, run_id=run_id)
    running = Run.objects.filter(id=run_id, status=RunStatus.RUNNING)
    wait_for(running.exists, 20, f"run {run_id} to start")


def ask_and_poll(client, run_id: str, **form) -> str:
    """What the panel shows once the owner answered (following the htmx polls)."""
    found: list[str] = []

    def answered() -> bool:
        page = client.post("/stack/ask/", {"run_id": run_id, **form}).content.decode()
        for _ in range(40):
            poll = re.search(r'hx-get="([^"]+)"', page)
            if poll is None:
                break
            page = client.get(poll.group(1).replace("&amp;", "&")).content.decode()
        found[:] = [page]
        return "waiting_for_the_bank" in page

    wait_for(answered, 30, "the stack to show the step")
    return found[0]


def test_the_run_page_offers_where_is_it_now_for_a_running_run(owner_client):
    start_paying("where-page")
    content = owner_client.get("/runs/where-page/").content.decode()
    assert "Where is it now?" in content and 'name="locals"' in content
    operations.cancel("where-page")
    answer_at_once("where-page")


def test_an_operator_sees_the_stack_with_redacted_locals(owner_client):
    start_paying("where-owner")

    content = ask_and_poll(owner_client, "where-owner", locals="on")

    assert "celery_workflows.py:" in content and "# the bank is slow" in content
    assert "api_token" in content and "&lt;redacted&gt;" in content
    assert "secret-of-where-owner" not in content
    operations.cancel("where-owner")
    answer_at_once("where-owner")


def test_a_viewer_sees_the_stack_but_never_local_variables(viewer_client):
    start_paying("where-viewer")
    assert 'name="locals"' not in viewer_client.get("/runs/where-viewer/").content.decode()

    content = ask_and_poll(viewer_client, "where-viewer", locals="on")

    assert "waiting_for_the_bank" in content and "api_token" not in content
    assert not StackRequest.objects.filter(run_id="where-viewer", include_locals=True).exists()
    operations.cancel("where-viewer")
    answer_at_once("where-viewer")


def test_hostile_or_pointless_questions_get_a_clear_400_never_a_500(owner_client, stranger_client):
    make_run(id="where-done")
    refused = owner_client.post("/stack/ask/", {"run_id": "where-done"})
    assert (
        refused.status_code == 400
        and "SUCCESS, so no step of it runs now" in refused.content.decode()
    )
    hostile = owner_client.post("/stack/ask/", {"run_id": HOSTILE}).content.decode()
    assert HOSTILE not in hostile and "&lt;script&gt;" in hostile
    for query in (
        "request=x&tries=0",
        "request=99999999999999999999&tries=0",
        "request=1&tries=-1",
    ):
        assert owner_client.get(f"/stack/answer/?run_id=a&{query}").status_code == 400
    assert owner_client.get("/stack/ask/").status_code == 405
    assert stranger_client.post("/stack/ask/", {"run_id": "where-done"}).status_code == 403


def test_a_viewer_never_gets_locals_from_a_question_an_operator_shares(viewer_client):
    """Askers share a pending question; one with locals (an operator's) is answered with
    them, and a viewer polling it, even with locals=1 in the URL, gets none."""
    make_run(id="where-shared", status="RUNNING", finished_at=None)
    asked = StackRequest.objects.create(run_id="where-shared", include_locals=True)
    frame = {"file": "f.py", "line": 3, "function": "pay", "source": "", "locals": {"pin": "1"}}
    answer = {"threads": [{"thread": "t", "hung": False, "frames": [frame]}]}
    StackRequest.objects.filter(id=asked.id).update(answered_at=timezone.now(), answer=answer)

    url = f"/stack/answer/?run_id=where-shared&request={asked.id}&tries=0&locals=1"
    content = viewer_client.get(url).content.decode()

    assert "pay" in content and "f.py:3" in content and "pin" not in content
