"""A timeline to trust: step order, inherited checkpoints, markers, collapsed idle gaps."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard import charts
from durable.models import Attempt, AuditEntry, Step
from tests.dashboard.conftest import make_failed_run, make_run, make_step

pytestmark = pytest.mark.django_db


def _history(run_id):
    from dashboard.queries.detail import run_history

    history = run_history(run_id)
    return history.run, history.steps, history.attempts


def test_rows_are_in_step_order_even_when_a_step_was_retried(db):
    make_failed_run(id="r")
    run, steps, attempts = _history("r")
    html = charts.gantt(charts.timeline_bars(run, steps, attempts))
    order = html.split('"categoryarray":')[1].split("]")[0]
    assert order.index("#1 step_1") < order.index("#0 step_0") < order.index("queued")


def test_inherited_checkpoints_are_marked_and_not_drawn_at_the_parents_times(viewer_client):
    origin = make_failed_run(id="origin")
    fork = make_run(id="fork", forked_from=origin, forked_from_step=1)
    parent_step = Step.objects.get(run=origin, position=0)
    make_step(fork, 0, started_at=parent_step.started_at, finished_at=parent_step.finished_at)
    make_step(fork, 1)
    run, steps, attempts = _history("fork")
    [inherited] = [bar for bar in charts.timeline_bars(run, steps, attempts) if bar.order == 0]
    assert inherited.outcome == "inherited" and inherited.start == fork.created_at
    assert "inherited from origin" in inherited.hover
    page = viewer_client.get("/runs/fork/").content.decode()
    assert 'class="inherited"' in page and "from origin" in page


def test_markers_say_who_resumed_and_who_cancelled_with_the_reason(db):
    run = make_failed_run(id="r")
    AuditEntry.objects.create(
        actor="ana", action="resume", run_ids=["r"], detail={"done": {"r": "r"}, "reason": "fixed"}
    )
    AuditEntry.objects.create(
        actor="bo", action="cancel", run_ids=["r"], detail={"done": {"r": "r"}, "reason": "dup"}
    )
    texts = [marker.text for marker in charts.timeline_markers(run, AuditEntry.objects.all())]
    assert "failed → resumed by ana: fixed" in texts and "cancelled by bo: dup" in texts
    run.recovery_count = 2
    assert any("executor died → recovered" in m.text for m in charts.timeline_markers(run, []))


def test_long_idle_gaps_are_collapsed_and_labelled(db):
    now = timezone.now()
    start = now - timedelta(hours=2)
    run = make_run(id="r", created_at=start, started_at=start, finished_at=now)
    make_step(run, 0, started_at=start, finished_at=start + timedelta(seconds=2))
    make_step(run, 1, started_at=now - timedelta(seconds=2), finished_at=now)
    run, steps, attempts = _history("r")
    bars = charts.timeline_bars(run, steps, attempts)
    [(gap_start, gap_end)] = charts.idle_gaps(bars)
    assert (gap_end - gap_start) > timedelta(hours=1)
    html = charts.gantt(bars)
    idle = charts.human_ms((gap_end - gap_start).total_seconds() * 1000)
    assert "rangebreaks" in html and f"idle {idle}" in html


def test_a_cancelled_runs_table_shows_the_step_its_attempts_belong_to(viewer_client):
    now = timezone.now()
    run = make_run(id="c", status="CANCELLED", cancel_reason="stop")
    make_step(run, 0)
    Attempt.objects.create(
        run=run,
        position=1,
        attempt=1,
        name="shop.flaky",
        error={"message": "timeout"},
        error_type="shop.Timeout",
        started_at=now,
        finished_at=now,
    )
    page = viewer_client.get("/runs/c/").content.decode()
    assert 'id="step-1"' in page and "NO CHECKPOINT" in page and "flaky" in page


def test_a_resume_after_a_cancel_reads_cancelled_then_resumed(db):
    run = make_failed_run(id="r")
    earlier = timezone.now() - timedelta(minutes=5)
    AuditEntry.objects.create(actor="bo", action="cancel", run_ids=["r"], created_at=earlier,
                              detail={"done": {"r": "r"}, "reason": "dup"})  # fmt: skip
    AuditEntry.objects.create(actor="ana", action="resume", run_ids=["r"],
                              detail={"done": {"r": "r"}})  # fmt: skip
    texts = [m.text for m in charts.timeline_markers(run, AuditEntry.objects.order_by("-id"))]
    assert texts == ["cancelled by bo: dup", "cancelled → resumed by ana"]


def test_patched_steps_are_marked_on_the_gantt(db):
    origin = make_failed_run(id="origin")
    fork = make_run(id="fork", forked_from=origin, forked_from_step=2)
    make_step(fork, 0)
    make_step(fork, 1, patched=True)
    make_step(fork, 2)
    run, steps, attempts = _history("fork")
    bars = {bar.order: bar for bar in charts.timeline_bars(run, steps, attempts)}
    assert bars[1].row.endswith("(patched)") and "edited by an operator" in bars[1].hover
    assert "patched" not in bars[0].row
    assert "(patched)" in charts.gantt(list(bars.values()))


def test_the_idle_gap_before_a_resume_is_cut_from_the_axis(db):
    now = timezone.now()
    start = now - timedelta(minutes=10)
    run = make_run(id="r", created_at=start, started_at=start, finished_at=now)
    make_step(run, 0, started_at=start, finished_at=start + timedelta(seconds=2))
    Attempt.objects.create(run=run, position=1, attempt=1, name="shop.step_1", error={},
                           error_type="E", started_at=start + timedelta(seconds=2),
                           finished_at=start + timedelta(seconds=3))  # fmt: skip
    resumed = now - timedelta(seconds=3)
    AuditEntry.objects.create(actor="ana", action="resume", run_ids=["r"], created_at=resumed,
                              detail={"done": {"r": "r"}})  # fmt: skip
    make_step(run, 1, started_at=resumed, finished_at=now)
    run, steps, attempts = _history("r")
    bars = charts.timeline_bars(run, steps, attempts)
    [(gap_start, gap_end)] = charts.idle_gaps(bars)
    assert gap_end - gap_start > timedelta(minutes=9)
    assert "rangebreaks" in charts.gantt(
        bars, charts.timeline_markers(run, AuditEntry.objects.all())
    )
