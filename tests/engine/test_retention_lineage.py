"""Prune deletes only what no unfinished run still needs."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from durable.models import Run, RunStatus
from durable.operations import _retention as retention


def _run(run_id: str, status: str, age_days: float, parent: Run | None = None) -> Run:
    finished = status in RunStatus.terminal()
    at = timezone.now() - timedelta(days=age_days)
    return Run.objects.create(
        id=run_id, workflow="tests.ledger", status=status, input={"args": []}, parent=parent,
        finished_at=at if finished else None,
    )  # fmt: skip


def test_prune_keeps_a_finished_child_whose_parent_is_still_running(transactional_db):
    parent = _run("ret-parent", RunStatus.RUNNING, 0)
    _run("ret-parent-child", RunStatus.SUCCESS, 40, parent=parent)
    assert retention.prune(timedelta(days=30)) == 0
    assert Run.objects.filter(id="ret-parent-child").exists()


def test_prune_keeps_a_finished_child_whose_parent_is_kept_and_could_be_resumed(
    transactional_db,
):
    parent = _run("ret-failed", RunStatus.ERROR, 1)
    _run("ret-failed-child", RunStatus.SUCCESS, 40, parent=parent)
    assert retention.prune(timedelta(days=30)) == 0
    assert Run.objects.filter(id="ret-failed-child").exists()


def test_prune_deletes_a_child_with_its_old_finished_parent(transactional_db):
    parent = _run("ret-old", RunStatus.SUCCESS, 40)
    _run("ret-old-child", RunStatus.SUCCESS, 41, parent=parent)
    _run("ret-alone", RunStatus.SUCCESS, 41)
    assert retention.prune(timedelta(days=30), batch_size=1) == 3
    assert not Run.objects.exists()
