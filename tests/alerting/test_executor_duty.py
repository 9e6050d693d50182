"""The executors evaluate alert rules on their own timed duties: a run that really fails
on the in-process executor reaches the receiver without anyone calling the evaluator."""

from __future__ import annotations

import time

import pytest

import durable
from durable import executors
from tests.alerting.conftest import rule
from tests.monitoring.workflows import refused


@pytest.fixture
def engine(transactional_db):
    yield
    executors.shutdown()


@pytest.mark.slow
def test_a_real_failure_is_alerted_by_the_executor_duties(engine, receiver):
    rule(
        destinations=[{"kind": "webhook", "url": receiver.url()}],
        workflow="tests.monitoring.refused",
    )
    with pytest.raises(ValueError):
        durable.start(refused, "no stock left", run_id="duty-1").result(timeout=15)
    deadline = time.monotonic() + 30  # the duty runs every 5 s; generous on a loaded machine
    while not receiver.bodies() and time.monotonic() < deadline:
        time.sleep(0.2)
    (body,) = receiver.bodies()
    assert body["event"] == "trigger" and body["details"]["sample_run"] == "duty-1"
