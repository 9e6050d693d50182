"""Muting a failure group "until a code version ships" waits for that version of the
group's own workflow: another workflow that happens to use the same version name, or a
version that only matches as a LIKE pattern, ships nothing for this group."""

from __future__ import annotations

import pytest

from durable.models import Executor
from durable.observability import alerting
from tests.alerting.conftest import evaluate_now, fail_run, rule

GROUP = ("shop.order", "shop.charge", "shop.CardDeclined", "fp-card")


def _muted_until(version: str, receiver) -> None:
    rule(destinations=[{"kind": "webhook", "url": receiver.url()}])
    fail_run()
    alerting.triage.update(GROUP, {"muted_until_version": version}, actor="tester")


@pytest.mark.parametrize(
    "version, served",
    [
        ("2", "mail.send@2"),  # another workflow at that version
        ("2024_06", "shop.order@2024-06"),  # a version matching only as a LIKE pattern
    ],
    ids=["another workflow", "as a pattern"],
)
def test_only_the_groups_own_workflow_at_that_version_ends_the_mute(db, receiver, version, served):
    _muted_until(version, receiver)
    Executor.objects.create(id="other", kind="thread", hostname="h", pid=1, workflows=[served])
    evaluate_now()
    assert receiver.bodies() == []
