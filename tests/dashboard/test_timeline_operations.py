"""The timeline's markers read right after real operator actions on a real run (not hand-made
audit rows): a cancel then a resume reads "cancelled by …" then "cancelled → resumed by …"."""

from __future__ import annotations

import durable
from dashboard import charts
from durable import operations
from durable.models import AuditEntry, Run, RunStatus
from tests.dashboard.conftest import wait_until_finished
from tests.engine.celery_workflows import paying
from tests.engine.processes import wait_for


def texts(run_id: str) -> list[str]:
    run = Run.objects.get(id=run_id)
    return [m.text for m in charts.timeline_markers(run, AuditEntry.objects.all())]


def test_a_cancelled_then_resumed_run_reads_cancelled_then_resumed(engine, viewer_client):
    durable.start(paying, "cr-1", 1, run_id="cr-1")
    wait_for(Run.objects.filter(id="cr-1", status=RunStatus.RUNNING).exists, 20, "cr-1 to run")
    operations.cancel("cr-1", actor="bo", reason="duplicate order")
    wait_for(Run.objects.filter(id="cr-1", status=RunStatus.CANCELLED).exists, 20, "the cancel")
    operations.resume("cr-1", actor="ana")
    assert wait_until_finished("cr-1") == RunStatus.SUCCESS

    assert texts("cr-1") == ["cancelled by bo: duplicate order", "cancelled → resumed by ana"]
    page = viewer_client.get("/runs/cr-1/").content.decode()
    assert "cancelled by bo: duplicate order" in page and "failed → resumed" not in page


def test_a_cancel_without_a_reason_reads_without_a_dangling_colon(engine):
    durable.start(paying, "cr-2", 2, run_id="cr-2")
    wait_for(Run.objects.filter(id="cr-2", status=RunStatus.RUNNING).exists, 20, "cr-2 to run")
    operations.cancel("cr-2", actor="bo")
    assert texts("cr-2") == ["cancelled by bo"]
