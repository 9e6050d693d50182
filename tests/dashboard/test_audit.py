"""The audit log page: who did what to which runs, newest first, filterable."""

from __future__ import annotations

import pytest

from durable.models import AuditEntry
from tests.dashboard.conftest import HOSTILE

pytestmark = pytest.mark.django_db


def test_entries_show_actor_action_runs_and_refusals(viewer_client):
    AuditEntry.objects.create(
        actor="alice",
        action="resume",
        run_ids=["r-1", "r-2"],
        detail={"done": {"r-1": "r-1"}, "refused": {"r-2": "it is RUNNING"}},
    )
    content = viewer_client.get("/audit/").content.decode()
    assert "alice" in content and "/runs/r-1/" in content
    assert "1 refused" in content and "it is RUNNING" in content


def test_filter_by_run_id(viewer_client):
    AuditEntry.objects.create(actor="alice", action="resume", run_ids=["r-1"])
    AuditEntry.objects.create(actor="bob", action="cancel", run_ids=["r-2"])
    content = viewer_client.get("/audit/?run=r-2").content.decode()
    assert "bob" in content and "alice" not in content


def test_empty_state(viewer_client):
    assert b"No operator actions yet." in viewer_client.get("/audit/").content


def test_stranger_gets_403(stranger_client):
    assert stranger_client.get("/audit/").status_code == 403


def test_actor_names_are_escaped(viewer_client):
    AuditEntry.objects.create(actor=HOSTILE, action="resume", run_ids=["r-1"])
    assert HOSTILE not in viewer_client.get("/audit/").content.decode()
