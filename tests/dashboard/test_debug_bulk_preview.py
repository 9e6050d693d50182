"""The bulk confirmation page aggregates which steps the action runs again."""

from __future__ import annotations

import durable
from tests.dashboard.conftest import wait_until_finished
from tests.engine import debug_workflows

CHARGE = "tests.engine.debug_workflows.charge_payment"


def test_bulk_resume_preview_counts_runs_repeating_a_non_idempotent_step(owner_client, engine):
    for order in ("a", "b", "c"):
        handle = durable.start(debug_workflows.checkout, order, run_id=f"bulk-{order}")
        assert wait_until_finished(handle.run_id) == "ERROR"
    page = owner_client.get(
        "/bulk/", {"action": "restart", "scope": "matching", "workflow": "tests.debug.checkout"}
    ).content.decode()
    assert f"3 runs will run {CHARGE} again; it is not idempotent" in page
    assert "3 runs will run tests.engine.debug_workflows.fetch_quote again; declared" in page
    resume = owner_client.get(
        "/bulk/", {"action": "resume", "scope": "selected", "run_ids": ["bulk-a", "bulk-b"]}
    ).content.decode()
    assert f"2 runs will run {CHARGE} again; it is not idempotent" in resume
