"""Muting a failure group "until a code version ships" waits for that version of the
group's own workflow: another workflow that happens to use the same version name, or a
version that only matches as a LIKE pattern, ships nothing for this group."""

from __future__ import annotations

from durable.models import Executor
from durable.observability import alerting
from tests.alerting.conftest import evaluate_now, fail_run, rule

GROUP = ("shop.order", "shop.charge", "shop.CardDeclined", "fp-card")


def _muted_until(version: str, receiver) -> None:
    rule(destinations=[{"kind": "webhook", "url": receiver.url()}])
    fail_run()
    alerting.triage.update(GROUP, {"muted_until_version": version}, actor="tester")


def test_another_workflow_at_that_version_does_not_end_the_mute(db, receiver):
    _muted_until("2", receiver)
    Executor.objects.create(id="mail", kind="thread", hostname="h", pid=1,
                            workflows=["mail.send@2"])  # fmt: skip
    evaluate_now()
    assert receiver.bodies() == []


def test_a_version_is_matched_as_written_not_as_a_pattern(db, receiver):
    _muted_until("2024_06", receiver)
    Executor.objects.create(id="old", kind="thread", hostname="h", pid=1,
                            workflows=["shop.order@2024-06"])  # fmt: skip
    evaluate_now()
    assert receiver.bodies() == []
