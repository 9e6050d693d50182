"""Bulk jobs keep their state on the server (a durable workflow does the batches): the page
only polls, tampering gives 400 or a page that says so, nothing repeats, and two operators
restarting one filter at once restart each run once."""

from __future__ import annotations

import re
import threading
import uuid

from django.db import connection
from django.test import Client
from django.utils import timezone

from durable import operations
from durable.models import AuditEntry, BulkJob, Run
from durable.operations import _jobs
from tests.dashboard.conftest import make_failed_run
from tests.dashboard.test_bulk import drive


def _start(client: Client, **extra) -> str:
    data = {
        "action": "restart",
        "scope": "matching",
        "workflow": "not.registered",
        "as_of": timezone.now().isoformat(),
        "total": 1,
        "reason": "INC-7 provider outage fixed",  # required: the audit log says why
        **extra,
    }
    response = client.post("/actions/bulk/", data)
    assert response.status_code == 200, response.content
    return response.content.decode()


def _drive(client: Client, html: str) -> str:
    return drive(client, html)


def test_the_page_only_polls_the_job_it_started(owner_client, engine, monkeypatch):
    monkeypatch.setattr(_jobs, "BATCH", 1)
    make_failed_run(workflow="not.registered")
    make_failed_run(workflow="not.registered")
    html = _start(owner_client)
    assert 'hx-trigger="load' not in html and 'hx-get="/jobs/' in html
    hidden = set(re.findall(r'<input type="hidden" name="(\w+)"', html))
    assert hidden <= {"csrfmiddlewaretoken", "job", "verb"}  # the pause / abort buttons
    assert "Done: restart" in _drive(owner_client, html)


def test_tampered_job_ids_are_refused_and_change_nothing(owner_client, engine):
    make_failed_run(workflow="not.registered")
    for bad in ["not-a-uuid", "\x00", "1" * 5000, str(uuid.uuid4()), "[[[[[[[["]:
        data = {"job": bad, "verb": "abort"}
        assert owner_client.post("/actions/job/", data).status_code == 400
        page = owner_client.get(f"/jobs/{bad[:300]}/")
        assert page.status_code == 400 or b"No such job" in page.content
    assert (
        owner_client.post("/actions/job/", {"job": str(uuid.uuid4()), "verb": "rm"}).status_code
        == 400
    )
    assert Run.objects.count() == 1 and not AuditEntry.objects.exists()


def test_another_operators_token_starts_a_job_of_ones_own(owner_client, engine):
    make_failed_run(workflow="not.registered")
    token = uuid.uuid4()
    theirs = operations.start_bulk_job("restart", [], actor="someone-else",
                                       request_id=f"dashboard:someone-else:{token}")  # fmt: skip
    _drive(owner_client, _start(owner_client, token=str(token)))
    assert BulkJob.objects.exclude(id=theirs.id).get().actor == "owner"


def test_tampered_start_fields_are_refused_with_400(owner_client, engine):
    make_failed_run(workflow="not.registered")
    for field, value in [
        ("as_of", "2024-01-01T00:00:00+23:59x"),
        ("as_of", "0001-01-01T00:00:00+05:00"),
        ("total", "9" * 5000),
        ("total", "-1"),
        ("token", "\x00"),
        ("action", "delete"),
    ]:
        data = {"action": "restart", "scope": "matching", "as_of": timezone.now().isoformat()}
        data["total"], data["reason"] = "1", "INC-7"
        data[field] = value
        assert owner_client.post("/actions/bulk/", data).status_code == 400, field
    assert Run.objects.count() == 1


def test_a_repeated_request_never_repeats_a_batch(owner_client, engine, monkeypatch):
    monkeypatch.setattr(_jobs, "BATCH", 2)
    for _ in range(3):
        make_failed_run(workflow="not.registered")
    token = str(uuid.uuid4())
    for _ in range(5):  # a retry storm on one form
        html = _start(owner_client, total=3, token=token)
    _drive(owner_client, html)
    assert Run.objects.filter(forked_from__isnull=False).count() == 3
    assert BulkJob.objects.get().done == 3


def test_submitting_the_preview_twice_continues_one_job(owner_client, engine):
    make_failed_run(workflow="not.registered")
    token = str(uuid.uuid4())
    _drive(owner_client, _start(owner_client, token=token))
    _drive(owner_client, _start(owner_client, token=token))
    assert Run.objects.filter(forked_from__isnull=False).count() == 1
    assert BulkJob.objects.count() == 1


def test_two_bulk_restarts_of_one_filter_restart_each_run_once(owner, engine, monkeypatch):
    monkeypatch.setattr(_jobs, "BATCH", 10)
    originals = [make_failed_run(workflow="not.registered") for _ in range(60)]
    as_of = timezone.now().isoformat()
    barrier = threading.Barrier(2)

    def operator() -> None:
        client = Client()
        client.force_login(owner)
        barrier.wait()
        try:
            _drive(client, _start(client, as_of=as_of, total=60))
        finally:
            connection.close()

    threads = [threading.Thread(target=operator) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert Run.objects.filter(forked_from__in=originals).count() == 60
    refused = [job.refused for job in BulkJob.objects.all() if job.refused]
    assert all(len(reasons) == 1 for reasons in refused)  # one line: "owner restarted it…"


def test_invalid_ids_in_a_bulk_job_are_audited_as_refusals(owner_client, engine):
    run = make_failed_run()
    html = _start(owner_client, scope="selected", run_ids=[run.id, "attacker/../victim"], total=2)
    html = _drive(owner_client, html)
    assert "Done: " in html and "cannot be" in html
    refused = AuditEntry.objects.get(action="restart").detail["refused"]
    assert "attacker/../victim" in refused
