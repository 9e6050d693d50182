"""The run page: history, timeline, lineage, live polling, buttons by permission, escaping."""

from __future__ import annotations

import pytest

from tests.dashboard.conftest import HOSTILE, make_failed_run, make_run, make_step

pytestmark = pytest.mark.django_db


def test_anonymous_users_must_log_in(client):
    make_run(id="r-1")
    assert client.get("/runs/r-1/").status_code == 302


def test_a_stranger_gets_403(stranger_client):
    make_run(id="r-1")
    assert stranger_client.get("/runs/r-1/").status_code == 403


def test_an_unknown_run_is_404(viewer_client):
    assert viewer_client.get("/runs/nope/").status_code == 404


def test_a_failed_run_shows_steps_errors_retries_and_a_timeline(viewer_client):
    make_failed_run(id="order-42")
    content = viewer_client.get("/runs/order-42/").content.decode()
    assert "card declined for order 42" in content
    assert "Traceback: boom" in content
    assert "1 failed attempt" in content  # the 2nd attempt is the step's own error
    assert "plotly-figure-data" in content and "#1 step_1" in content
    assert "/static/dashboard/vendor/plotly.min.js" in content


def test_a_viewer_sees_no_action_buttons(viewer_client):
    make_failed_run(id="order-42")
    content = viewer_client.get("/runs/order-42/").content.decode()
    assert "Fork from here" not in content and "dlg-resume" not in content


def test_an_owner_sees_resume_restart_and_fork_with_explanations(owner_client):
    make_failed_run(id="order-42")
    content = owner_client.get("/runs/order-42/").content.decode()
    assert 'data-dialog="dlg-resume"' in content and 'data-dialog="dlg-restart"' in content
    assert content.count("Fork from here") == 2
    assert "continues from its last checkpoint" in content
    assert 'data-dialog="dlg-cancel"' not in content  # a failed run can't be cancelled


def test_run_ids_with_slashes_resolve(viewer_client):
    make_run(id="tenant/a/order-1")
    assert viewer_client.get("/runs/tenant/a/order-1/").status_code == 200


def test_lineage_links_parent_children_and_forks(viewer_client):
    origin = make_failed_run(id="origin")
    make_run(id="the-fork", forked_from=origin, forked_from_step=1)
    make_run(id="the-child", parent=origin)
    content = viewer_client.get("/runs/origin/").content.decode()
    assert "/runs/the-fork/" in content and "/runs/the-child/" in content
    fork_page = viewer_client.get("/runs/the-fork/").content.decode()
    assert "/runs/origin/" in fork_page and "at step 1" in fork_page


def test_a_running_run_polls_and_a_finished_one_does_not(viewer_client):
    running = make_run(id="busy", status="RUNNING", finished_at=None)
    make_step(running, 0)
    assert 'hx-trigger="every 2s' in viewer_client.get("/runs/busy/").content.decode()
    make_run(id="done")
    assert "hx-trigger" not in viewer_client.get("/runs/done/").content.decode()


def test_htmx_poll_returns_the_live_partial(viewer_client):
    make_run(id="busy", status="RUNNING", finished_at=None)
    content = viewer_client.get("/runs/busy/", headers={"HX-Request": "true"}).content.decode()
    assert content.lstrip().startswith('<div id="live"') and "<html" not in content


def test_hostile_inputs_outputs_and_errors_are_escaped(owner_client):
    run = make_failed_run(
        id="evil", message=HOSTILE, input={"args": [HOSTILE], "kwargs": {}}, tags={HOSTILE: HOSTILE}
    )
    make_step(run, 2, name=HOSTILE, output=HOSTILE)
    content = owner_client.get("/runs/evil/").content.decode()
    assert HOSTILE not in content
    assert "<script>alert" not in content


def test_a_child_entry_links_to_the_child_run(viewer_client):
    parent = make_run(id="parent")
    make_step(parent, 0, kind="child", name="shop.ship", output={"run_id": "parent.0"})
    make_run(id="parent.0", parent=parent)
    content = viewer_client.get("/runs/parent/").content.decode()
    assert 'href="/runs/parent.0/"' in content


def test_a_dead_run_lists_its_executors_deaths_and_the_gil_hint(viewer_client):
    from datetime import timedelta

    from django.utils import timezone

    from durable.models import Recovery

    run = make_run(id="dead-1", status="DEAD", recovery_count=1, error_type="RunDeadError")
    now = timezone.now()
    seen = now - timedelta(seconds=4)
    Recovery.objects.create(run=run, executor_id="thread:web-1:41:aa", hostname="web-1", pid=41,
                            last_seen_at=seen, outcome="ENQUEUED")  # fmt: skip
    Recovery.objects.create(run=run, executor_id="celery:web-2:42:bb", hostname="web-2", pid=42,
                            last_seen_at=seen, outcome="DEAD", owner_alive_at=now)  # fmt: skip
    content = viewer_client.get("/runs/dead-1/").content.decode()
    assert 'id="deaths"' in content and "went DEAD" in content
    assert "thread:web-1:41:aa" in content and "web-1" in content and ">41<" in content
    assert "celery:web-2:42:bb" in content and "alive afterwards" in content and "GIL" in content


def test_a_run_never_recovered_has_no_deaths_panel(viewer_client):
    make_run(id="fine-1")
    assert 'id="deaths"' not in viewer_client.get("/runs/fine-1/").content.decode()
