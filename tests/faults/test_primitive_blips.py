"""Primitives commit their writes with their history entry in one transaction; a connection
lost inside it is retried in place like a step's checkpoint, never the run's failure."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

import durable
from durable.core.store import _primitives as store_primitives
from durable.models import Message, Run


@durable.workflow(name="faults.receiver")
def receiver() -> Any:
    return durable.recv("blip", timeout=10)


@durable.workflow(name="faults.sender")
def sender(to: str) -> str:
    durable.set_event("progress", "sending")
    durable.send(to, {"n": 1}, topic="blip")
    return "sent"


def _drop_own_connection_once(monkeypatch, name: str) -> list[str]:
    """The first call of store_primitives.<name> loses its connection mid-transaction."""
    real = getattr(store_primitives, name)
    dropped: list[str] = []

    def drop_then_call(*args, **kwargs):
        if not dropped:
            dropped.append(name)
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return real(*args, **kwargs)

    monkeypatch.setattr(store_primitives, name, drop_then_call)
    return dropped


@pytest.mark.parametrize("primitive", ["send_message", "set_event", "consume_message"])
def test_a_primitive_whose_connection_drops_goes_on_in_place(
    transactional_db, monkeypatch, primitive
):
    dropped = _drop_own_connection_once(monkeypatch, primitive)
    target = durable.start(receiver, run_id=f"receiver-{primitive}")
    handle = durable.start(sender, target.run_id, run_id=f"sender-{primitive}")
    assert handle.result(timeout=20) == "sent"
    assert target.result(timeout=20) == {"n": 1}
    assert dropped == [primitive], "the fault was not injected"
    assert Message.objects.filter(run_id=target.run_id).count() == 1  # delivered once
    for run in Run.objects.filter(id__in=[target.run_id, handle.run_id]):
        assert (run.status, run.recovery_count) == ("SUCCESS", 0)
    assert durable.get_event(handle.run_id, "progress", timeout=1) == "sending"
