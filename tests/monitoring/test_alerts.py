"""failure_group_alert fires when a failure group appears and when it reaches the threshold."""

from __future__ import annotations

import time

import pytest

import durable
from durable import executors
from durable.observability.alerts import failure_group_alert
from tests.monitoring.workflows import refused


@pytest.fixture
def alerts():
    received: list[dict] = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    failure_group_alert.connect(receiver)
    yield received
    failure_group_alert.disconnect(receiver)


def fail(run_id: str, reason: str) -> None:
    """Fail a run and wait for its executor thread to finish with it (alerts included)."""
    with pytest.raises(ValueError):
        durable.start(refused, reason, run_id=run_id).result(timeout=10)
    executor = executors.get_executor()
    deadline = time.monotonic() + 10
    while run_id in executor._pending or run_id in executor._in_flight:
        assert time.monotonic() < deadline, f"run {run_id} still held by its executor"
        time.sleep(0.01)


def test_alert_when_a_failure_group_appears_and_when_it_reaches_the_threshold(
    transactional_db, settings, alerts
):
    settings.DURABLE_ALERT_THRESHOLD = 3
    for index in range(4):
        fail(f"al-{index}", f"order {index} has no funds")
    assert [(a["reason"], a["count"], a["run_id"]) for a in alerts] == [
        ("appeared", 1, "al-0"),
        ("threshold", 3, "al-2"),
    ]
    assert alerts[0]["workflow"] == "tests.monitoring.refused"
    assert alerts[0]["error_type"] == "builtins.ValueError"
    assert alerts[0]["message"] == "order 0 has no funds"


def test_a_different_error_is_a_new_group(transactional_db, alerts):
    fail("al-a", "no funds")
    fail("al-b", "card expired")
    assert [a["reason"] for a in alerts] == ["appeared", "appeared"]
    assert alerts[0]["fingerprint"] != alerts[1]["fingerprint"]
