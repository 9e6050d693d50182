"""The bulk confirmation page aggregates which steps the action runs again."""

from __future__ import annotations

import durable
from dashboard.views import debug
from tests.dashboard.conftest import wait_until_finished
from tests.engine import debug_workflows

CHARGE = "tests.engine.debug_workflows.charge_payment"


def _failed_checkouts(client, *orders: str) -> str:
    """Fail one checkout per order, then the page of a bulk restart of them all."""
    for order in orders:
        handle = durable.start(debug_workflows.checkout, order, run_id=f"bulk-{order}")
        assert wait_until_finished(handle.run_id) == "ERROR"
    return client.get(
        "/bulk/", {"action": "restart", "scope": "matching", "workflow": "tests.debug.checkout"}
    ).content.decode()


def test_bulk_resume_preview_counts_runs_repeating_a_non_idempotent_step(owner_client, engine):
    page = _failed_checkouts(owner_client, "a", "b", "c")
    assert f"3 runs will run {CHARGE} again; it is not idempotent" in page
    assert "3 runs will run tests.engine.debug_workflows.fetch_quote again; declared" in page
    resume = owner_client.get(
        "/bulk/", {"action": "resume", "scope": "selected", "run_ids": ["bulk-a", "bulk-b"]}
    ).content.decode()
    assert f"2 runs will run {CHARGE} again; it is not idempotent" in resume


def test_bulk_preview_of_many_runs_replays_a_sample_and_says_about(
    owner_client, engine, monkeypatch
):
    """The page previews a bounded sample (its cost must not grow with the selection)."""
    monkeypatch.setattr(debug, "PREVIEW_SAMPLE", 2)
    page = _failed_checkouts(owner_client, "a", "b", "c", "d")
    assert f"about 4 runs will run {CHARGE} again; it is not idempotent" in page
    assert "from an even sample of 2 of 4 runs" in page
