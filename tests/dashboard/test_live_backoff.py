"""A running run waiting out a retry's backoff is parked, not active (docs/dashboard.md:
"Parked time is ... waiting between retries"; "for a live run the dashboard sums the same
rows and adds the step in flight")."""

from __future__ import annotations

import re
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from durable.models import Attempt, Run
from tests.dashboard.conftest import make_run, make_step


def _backing_off_run() -> Run:
    """Started 60 s ago: step 0 took 1 s, step 1's first attempt took 1 s and failed 57 s
    ago; its retry waits 300 s, so for the last 57 s nothing has executed."""
    now = timezone.now()
    at = lambda seconds: now - timedelta(seconds=seconds)  # noqa: E731
    run = make_run(id="backing-off", status="RUNNING", finished_at=None, active_ms=None,
                   created_at=at(61), started_at=at(60))  # fmt: skip
    Run.objects.filter(id=run.id).update(updated_at=at(60))  # claimed then
    make_step(run, 0, started_at=at(60), finished_at=at(59), duration_ms=1000.0)
    error = {"type": "builtins.OSError", "message": "flaky", "retry_delay_seconds": 300.0}
    Attempt.objects.create(run=run, position=1, attempt=1, name="shop.step_1", error=error,
                           error_type="builtins.OSError", error_fingerprint="fp", final=False,
                           started_at=at(58), finished_at=at(57))  # fmt: skip
    return Run.objects.get(id=run.id)


def _seconds(text: str) -> float:
    value, unit = re.match(r"([\d.]+)\s*(ms|s|min|h)", text.strip()).groups()
    return float(value) * {"ms": 0.001, "s": 1, "min": 60, "h": 3600}[unit]


def test_a_run_waiting_out_a_retry_backoff_reads_parked_on_its_page(viewer_client):
    _backing_off_run()
    page = viewer_client.get("/runs/backing-off/").content.decode()
    active = _seconds(re.search(r'id="active-time"[^>]*>([^<]*)<', page).group(1))
    parked = _seconds(re.search(r'id="parked-time"[^>]*>([^<]*)<', page).group(1))
    # 2 s executed (step 0 and the failed attempt); 58 s waiting (the backoff, mostly)
    assert active < 5, (active, parked)
    assert parked > 50, (active, parked)


def test_a_run_waiting_out_a_retry_backoff_reads_parked_in_the_runs_list(viewer_client):
    _backing_off_run()
    from dashboard.queries.runs import with_history, with_parked_time

    row = dict(
        Run.objects.filter(id="backing-off").values(
            "id", "status", "created_at", "started_at", "finished_at", "updated_at", "active_ms"
        )[0]
    )
    row = with_parked_time(with_history([row]))[0]
    assert row["active"] < 5_000, row
    assert row["parked"] > 50_000, row


def test_a_backoff_from_before_the_runs_last_claim_is_not_waited_out(viewer_client):
    """Cancelled during the wait and resumed at once (or recovered): the step runs again
    since that claim, 20 s ago; the old 300 s backoff does not make it read parked."""
    _backing_off_run()
    claimed = timezone.now() - timedelta(seconds=20)
    Run.objects.filter(id="backing-off").update(claimed_at=claimed, updated_at=claimed)
    page = viewer_client.get("/runs/backing-off/").content.decode()
    active = _seconds(re.search(r'id="active-time"[^>]*>([^<]*)<', page).group(1))
    assert active > 15, active
    from dashboard.queries.runs import with_history, with_parked_time

    row = dict(
        Run.objects.filter(id="backing-off").values(
            "id", "status", "created_at", "started_at", "finished_at", "updated_at", "active_ms"
        )[0]
    )
    assert with_parked_time(with_history([row]))[0]["active"] > 15_000


def test_a_stored_backoff_out_of_any_range_still_lists(viewer_client):
    """An imported attempt may say 1e400 seconds: the runs list clamps it, it answers."""
    run = _backing_off_run()
    Attempt.objects.filter(run_id=run.id).update(
        error={"type": "builtins.OSError", "message": "flaky", "retry_delay_seconds": 1e308}
    )
    with connection.cursor() as cursor:  # a JSON number past float8, as a file may hold
        cursor.execute(
            "UPDATE durable_attempt SET error = '{\"retry_delay_seconds\": 1e400}'::json "
            "WHERE run_id = %s",
            [run.id],
        )
    assert viewer_client.get("/").status_code == 200  # the runs list
    assert viewer_client.get("/runs/backing-off/").status_code == 200
