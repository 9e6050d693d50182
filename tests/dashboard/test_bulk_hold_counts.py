"""A bulk hold's or release's preview counts exactly the runs the action then holds or
releases: held runs are ENQUEUED (or RUNNING, or ended while held), so a count by status
alone cannot tell them apart. Checked on the page and in the API, for any mix of runs."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard import tokens
from durable import operations
from durable.models import Run, RunStatus
from tests.dashboard.api.conftest import TokenClient
from tests.dashboard.conftest import make_run

RUNS = st.lists(st.tuples(st.sampled_from(RunStatus.values), st.booleans()), min_size=1, max_size=8)
EXAMPLES = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def operator_api(owner) -> TokenClient:
    return TokenClient(tokens.create(owner, "ci-bot", "operate").secret)


def _runs(mix: list[tuple[str, bool]]) -> list[str]:
    """One run per (status, held) pair, of a workflow nobody runs: nothing moves them."""
    Run.objects.all().delete()
    now = timezone.now()
    for number, (status, held) in enumerate(mix):
        ended = status not in RunStatus.active()
        make_run(id=f"mix-{number}", workflow="not.registered", status=status,
                 finished_at=now if ended else None, held_at=now if held else None,
                 hold_reason="INC-1" if held else "")  # fmt: skip
    return [f"mix-{number}" for number in range(len(mix))]


def _page_count(client, action: str) -> int:
    page = client.get(f"/bulk/?action={action}&scope=matching&workflow=not.registered")
    found = re.search(r"<strong>([\d,]+)</strong> runs? will be", page.content.decode())
    return int(found.group(1).replace(",", "")) if found else 0


def _api_count(client: TokenClient, action: str, run_ids: list[str]) -> int:
    target = {"action": action, "scope": "selected", "run_ids": run_ids}
    return client.post("/bulk/preview", target).json()["eligible"]


@pytest.mark.parametrize("action", ["hold", "release"])
@given(mix=RUNS)
@EXAMPLES
def test_the_preview_counts_what_the_action_does(owner_client, operator_api, action, mix):
    run_ids = _runs(mix)
    counted = _page_count(owner_client, action), _api_count(operator_api, action, run_ids)
    act = operations.hold if action == "hold" else operations.release
    done = act(run_ids, actor="owner").done_count
    assert counted == (done, done), f"{action} of {mix}"


def test_the_release_preview_names_held_runs_and_says_what_a_release_does(owner_client):
    _runs([("ENQUEUED", True), ("ENQUEUED", False)])
    page = owner_client.get("/bulk/?action=release&scope=matching&workflow=not.registered")
    text = page.content.decode()
    assert "Releasing lets each held run go on" in text and "Cancelling" not in text
    assert "<strong>1</strong> run will be released" in text
