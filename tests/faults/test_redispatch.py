"""A run whose message could not be sent (broker down) is sent on the first sweep after."""

from __future__ import annotations

import socket
import time

from celery import Celery

import durable
from durable.executors import _sweeper as sweeper
from durable.executors.celery import CeleryDispatcher
from tests.faults.workflows import ledger


class Recording:
    """The broker back up, seen from the sweep: it records what it is asked to send."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def dispatch(self, run_id: str) -> None:
        self.sent.append(run_id)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens there once the probe closes


def test_a_dispatch_lost_to_a_broker_outage_is_sent_on_the_next_sweep(
    transactional_db, settings, monkeypatch
):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # Celery prefers it to `broker=`
    settings.DURABLE_EXECUTOR = "external"
    settings.DURABLE_REDISPATCH_SECONDS = 3600  # the lost-message check is far away…
    monkeypatch.setattr(sweeper, "_last_lost_check", time.monotonic())  # …and not due now
    durable.start(ledger, "redis-1", 1, 0, run_id="redis-1")
    down = Celery(broker=f"redis://127.0.0.1:{_closed_port()}/0", set_as_current=False)
    down.conf.broker_connection_retry = False
    down.conf.task_publish_retry = False
    down.conf.broker_transport_options = {"socket_connect_timeout": 0.2, "retry_on_timeout": False}
    CeleryDispatcher(app=down).dispatch("redis-1")  # fails: the broker is down
    sweeper.sweep_once(CeleryDispatcher(app=down))  # still down: the sweep's send fails too
    back = Recording()
    sweeper.sweep_once(back)
    assert "redis-1" in back.sent
