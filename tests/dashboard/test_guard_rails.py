"""Guard rails: counts that match the filter, parameter names, reasons, no links to 404s."""

from __future__ import annotations

import pytest

import durable
from durable.models import AuditEntry
from tests.dashboard.conftest import make_failed_run, make_run, wait_until_finished
from tests.dashboard.workflows import order


def test_the_bulk_button_counts_the_runs_the_filter_matches(owner_client, db):
    for _ in range(3):
        make_failed_run()
    for _ in range(5):
        make_run()
    content = owner_client.get("/?status=ERROR").content.decode()
    assert "… all 3 runs matching this filter" in content


@pytest.mark.django_db(transaction=True)
def test_fork_and_restart_dialogs_name_the_parameters(owner_client, engine):
    durable.start(order, 7, True, run_id="named")
    wait_until_finished("named")
    content = owner_client.get("/runs/named/").content.decode()
    assert content.count('<td class="mono">order_id</td><td class="mono">7</td>') == 2
    assert '<td class="mono">fail</td><td class="mono">true</td>' in content


@pytest.mark.django_db(transaction=True)
def test_a_forks_reason_and_new_run_show_in_the_audit_log(owner_client, engine):
    durable.start(order, 8, True, run_id="to-fork")
    wait_until_finished("to-fork")
    owner_client.post(
        "/actions/fork/", {"run_id": "to-fork", "from_step": 1, "reason": "card fixed, INC-9"}
    )
    entry = AuditEntry.objects.get(action="fork")
    new_id = entry.detail["done"]["to-fork"]
    assert entry.detail["reason"] == "card fixed, INC-9"
    audit = owner_client.get("/audit/").content.decode()
    assert "card fixed, INC-9" in audit and f'href="/runs/{new_id}/"' in audit
    assert "card fixed, INC-9" in owner_client.get("/runs/to-fork/").content.decode()


def test_a_refused_action_on_an_unknown_id_does_not_link_to_a_404(owner_client, db):
    response = owner_client.post("/actions/resume/", {"run_id": "ghost"}, follow=True)
    page = response.content.decode()
    assert "Nothing changed" in page and 'href="/runs/ghost/"' not in page
    owner_client.post(
        "/actions/bulk/",
        {
            "action": "resume",
            "scope": "selected",
            "run_ids": ["ghost"],
            "total": 1,
            "as_of": "2030-01-01T00:00:00+00:00",
            "reason": "try",
        },
    )
    assert 'href="/runs/ghost/"' not in owner_client.get("/audit/").content.decode()
