"""The incident view of one failure group: when it began, on which version and after which
deploy, how far it reached, what is still failing, and what its runs have in common."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.queries import incident as queries
from durable.models import Executor
from tests.dashboard.conftest import HOSTILE, make_failed_run, make_run

pytestmark = pytest.mark.django_db

GROUP = {
    "workflow": "shop.order",
    "step": "shop.step_1",
    "error_type": "shop.CardDeclined",
    "fingerprint": "fp-card",
}


def _executor(name: str, version: str, started_ago: timedelta) -> None:
    Executor.objects.create(
        id=name,
        kind="thread",
        hostname="host",
        pid=1,
        workflows=[f"shop.order@{version}"],
        started_at=timezone.now() - started_ago,
    )


def _across_a_deploy() -> None:
    """v1 served for hours and succeeded; v2 was deployed 5 minutes ago and fails."""
    _executor("exec-v1", "v1", timedelta(hours=3))
    _executor("exec-v2", "v2", timedelta(minutes=5))
    for n in range(2):
        make_run(version="v1", created_at=timezone.now() - timedelta(hours=1, minutes=n))
    make_failed_run(
        version="v2", queue="payments", input={"args": [], "kwargs": {"cur": "EUR", "n": 1}}
    )
    make_failed_run(
        version="v2", queue="default", input={"args": [], "kwargs": {"cur": "EUR", "n": 2}}
    )


def _group() -> dict:
    now = timezone.now()
    found = queries.incident(queries.GroupKey(**GROUP), now - timedelta(days=1), now)
    assert found is not None
    return found


def test_the_incident_names_the_first_failing_version_and_the_deploy_before_it(viewer_client):
    _across_a_deploy()
    group = _group()
    assert group["first_version"] == "v2"
    assert group["last_good_version"] == "v1"
    assert group["deploy"] is not None and group["deploy"]["version"] == "v2"
    assert (
        timedelta(minutes=4)
        < group["first_seen"] - group["deploy"]["first_seen"]
        < timedelta(minutes=6)
    )
    page = viewer_client.get("/failures/group/", GROUP).content.decode()
    assert "first failed on version <strong>v2</strong>" in page
    assert "right after a deploy" in page


def test_failures_long_after_the_version_appeared_are_not_blamed_on_a_deploy(db):
    _executor("exec-v2", "v2", timedelta(hours=2))
    make_failed_run(version="v2")
    group = _group()
    assert group["first_version"] == "v2" and group["deploy"] is None


def test_blast_radius_counts_runs_queues_tags_and_workflows_with_the_same_error(db):
    make_failed_run(queue="payments", tags={"customer": "acme"})
    make_failed_run(queue="payments", tags={"customer": "globex"})
    make_failed_run(queue="default", tags={"customer": "acme"})
    make_failed_run(workflow="shop.refund")  # same error, another workflow: not in the group
    radius = _group()["radius"]
    assert (radius["runs"], radius["queues"], radius["tags"], radius["workflows"]) == (3, 2, 2, 2)


def test_still_failing_resolved_and_superseded_are_counted_once_each(db):
    make_failed_run()  # still failing
    forked = make_failed_run()
    make_run(forked_from=forked, forked_from_step=1, status="ERROR")
    healed = make_failed_run()
    type(healed).objects.filter(id=healed.id).update(status="SUCCESS")
    group = _group()
    assert (group["still_failing"], group["resolved"], group["superseded"]) == (1, 1, 1)


def test_common_and_differing_inputs_of_the_group(db):
    for n, cur in ((1, "EUR"), (2, "EUR"), (3, "EUR")):
        make_failed_run(input={"args": ["acme"], "kwargs": {"cur": cur, "n": n}})
    inputs = _group()["inputs"]
    assert inputs["sampled"] == 3
    assert inputs["common"] == [("args[0]", "acme"), ("cur", "EUR")]
    assert inputs["different"] == [("n", 3)]


def test_the_page_links_from_the_failures_page_and_previews_the_fork_of_all(owner_client):
    make_failed_run()
    failures = owner_client.get("/failures/").content.decode()
    assert "/failures/group/?workflow=shop.order&step=shop.step_1" in failures
    page = owner_client.get("/failures/group/", GROUP).content.decode()
    assert "/bulk/?action=fork&scope=matching&workflow=shop.order" in page  # a fork, no restart
    assert "onto the current version" in page


def test_a_stranger_is_refused(stranger_client, client):
    make_failed_run()
    assert stranger_client.get("/failures/group/", GROUP).status_code == 403
    assert client.get("/failures/group/", GROUP).status_code == 302


@pytest.mark.parametrize(
    "hostile",
    [
        {**GROUP, "workflow": HOSTILE},
        {**GROUP, "fingerprint": "x" * 5000},
        {**GROUP, "step": "' OR 1=1 --"},
        {**GROUP, "error_type": "../../etc/passwd"},
        {**GROUP, "window": "forever"},
        {"workflow": "shop.order"},
        {},
    ],
)
def test_hostile_group_keys_are_404_not_500(viewer_client, hostile):
    make_failed_run()
    assert viewer_client.get("/failures/group/", hostile).status_code == 404


def test_hostile_values_in_the_group_are_escaped(viewer_client):
    make_failed_run(message=HOSTILE, workflow=HOSTILE, input={"args": [HOSTILE], "kwargs": {}})
    page = viewer_client.get("/failures/group/", {**GROUP, "workflow": HOSTILE})
    assert page.status_code == 200
    assert HOSTILE not in page.content.decode() and "&lt;script&gt;" in page.content.decode()


def test_a_null_byte_in_a_group_key_is_refused_before_the_view(viewer_client):
    assert viewer_client.get("/failures/group/", {**GROUP, "step": "\x00"}).status_code == 400


def test_a_viewer_sees_the_incident_but_no_fork_button(viewer_client):
    make_failed_run()
    page = viewer_client.get("/failures/group/", GROUP).content.decode()
    assert "1 still failing" in page and "onto the current version" not in page
