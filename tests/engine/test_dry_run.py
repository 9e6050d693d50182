"""A dry run replays a sample of the runs a mass resume would touch against the code now
deployed, and flags those whose workflow changed shape."""

from __future__ import annotations

import durable
from durable.debugging import dry_run
from durable.models import Step
from tests.dashboard.conftest import wait_until_finished
from tests.engine.job_workflows import pay


def _failed_pay(run_id: str) -> str:
    durable.start(pay, run_id, False, run_id=run_id)
    assert wait_until_finished(run_id) == "ERROR"
    return run_id


def test_a_dry_run_flags_a_run_whose_workflow_changed_shape(side_effects):
    same = _failed_pay("pay-same")
    changed = _failed_pay("pay-changed")
    Step.objects.filter(run_id=changed, position=0).update(name="shop.old_charge_step")
    report = dry_run.dry_run("resume", [same, changed])
    assert list(report.diverging) == [changed]
    assert "shop.old_charge_step" in report.diverging[changed]
    text = "\n".join(report.lines())
    assert "1 would diverge" in text and "all 2 runs" in text
    assert "will run" in text and "call_provider" in text  # the preview of repeated steps


def test_a_large_selection_is_sampled_evenly(side_effects):
    ids = [_failed_pay(f"pay-{index}") for index in range(6)]
    report = dry_run.dry_run("resume", ids, sample=3)
    assert report.sampled == ["pay-0", "pay-2", "pay-4"] and not report.diverging
    assert "3 of 6 runs" in report.lines()[0]


def test_the_bulk_resume_preview_shows_the_dry_run(side_effects, client):
    from django.contrib.auth.models import Permission, User

    user = User.objects.create_user("owner", password="pw")
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_runs", "operate_runs"]))
    client.force_login(user)
    changed = _failed_pay("pay-changed")
    Step.objects.filter(run_id=changed, position=0).update(name="shop.old_charge_step")
    page = client.get("/bulk/?action=resume&scope=selected&run_ids=pay-changed").content.decode()
    assert 'id="dry-run"' in page and "1 would diverge" in page and "shop.old_charge_step" in page
