"""Superseded runs (a restart or fork of them exists) are their own state: not "still
failing" in failure groups, counted and skipped by "restart all matching" unless ticked."""

from __future__ import annotations

from django.utils import timezone

from dashboard.queries.hotspots import hotspots
from durable.models import Run
from tests.dashboard.conftest import make_failed_run, make_run
from tests.dashboard.test_bulk import drive


def _failed_restart_of(original: Run, run_id: str) -> Run:
    """A restart of `original` that failed too (with the same error)."""
    return make_failed_run(
        id=run_id, workflow=original.workflow, forked_from=original, forked_from_step=0
    )


def test_a_run_whose_restart_failed_too_is_superseded_not_still_failing(owner_client):
    original = make_failed_run(id="orig")
    _failed_restart_of(original, "orig-again")
    now = timezone.now()
    [group] = hotspots(now - timezone.timedelta(hours=1), now)
    assert (group["runs"], group["still_failed"], group["superseded"]) == (2, 1, 1)
    page = owner_client.get("/failures/").content.decode()
    assert "1 still failing" in page and "1 superseded (restarted or forked)" in page
    run_page = owner_client.get("/runs/orig/").content.decode()
    assert "superseded by orig-again" in run_page
    assert 'id="restart-superseded"' in run_page and "already restarted or forked as" in run_page


def _preview(client, **params) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return client.get(f"/bulk/?action=restart&scope=matching&{query}").content.decode()


def test_restart_all_matching_preview_excludes_superseded_runs(owner_client):
    for index in range(3):
        original = make_failed_run(id=f"old-{index}", workflow="shop.pay")
        _failed_restart_of(original, f"new-{index}")
    make_failed_run(id="fresh", workflow="shop.pay")
    text = _preview(owner_client, workflow="shop.pay", status="ERROR")
    # 7 match: 3 originals (superseded), their 3 failed restarts and 1 fresh failure
    assert '<strong id="superseded-count">3</strong> superseded runs' in text
    assert "<strong>4</strong> runs will be restarted" in text
    assert 'name="include_superseded"' in text
    # the status table agrees with the sum: its ERROR row says the superseded are skipped
    assert 'will be restarted <span class="muted">unless superseded' in text


def _restart_all(client, include: bool) -> str:
    data = {
        "action": "restart",
        "scope": "matching",
        "workflow": "shop.pay",
        "as_of": timezone.now().isoformat(),
        "total": 3,
        "reason": "INC-9 retry",
    }
    if include:
        data["include_superseded"] = "1"
    return drive(client, client.post("/actions/bulk/", data).content.decode())


def test_restart_all_matching_skips_superseded_runs_and_says_how_many(owner_client, engine):
    original = make_failed_run(id="p-old", workflow="shop.pay")
    make_run(id="p-new", workflow="shop.pay", status="ERROR", forked_from=original,
             forked_from_step=0)  # fmt: skip
    make_failed_run(id="p-fresh", workflow="shop.pay")
    text = _restart_all(owner_client, include=False)
    assert "Done: restart" in text and '<strong id="skipped">1</strong> skipped' in text
    assert Run.objects.filter(forked_from_id="p-old").count() == 1
    assert Run.objects.filter(forked_from_id="p-fresh").count() == 1
    assert Run.objects.filter(forked_from_id="p-new").count() == 1


def test_restart_all_matching_includes_superseded_runs_when_ticked(owner_client, engine):
    original = make_failed_run(id="q-old", workflow="shop.pay")
    make_run(id="q-new", workflow="shop.pay", status="ERROR", forked_from=original,
             forked_from_step=0)  # fmt: skip
    text = _restart_all(owner_client, include=True)
    assert "Done: restart" in text and 'id="skipped"' not in text
    assert Run.objects.filter(forked_from_id="q-old").count() == 2
