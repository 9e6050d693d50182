"""A live executor rides out dropped connections: no recovery spent, no error to callers."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.db import connection

import durable
from durable.core import store
from durable.core.store import _db as db
from durable.core.store import _execute
from durable.models import Attempt, Run
from tests.faults.conftest import drop_connections
from tests.faults.workflows import ledger, lost_commit_reply
from tests.lost_replies import lose_the_reply_of


def test_dropped_connections_mid_run_cost_no_recovery_and_no_caller_error(side_effects):
    handle = durable.start(ledger, "blip-1", 12, 0.1, run_id="blip-1")
    dropper = threading.Thread(
        target=lambda: [time.sleep(0.35) or drop_connections() for _ in range(3)]
    )
    began = time.monotonic()
    dropper.start()
    try:
        assert handle.result(timeout=15) == 12  # result polling rides the drops out too
    finally:
        dropper.join()
    # result() was told the outcome in-process and read nothing; the drops also ended this
    # test's own connection, which Django (not Durable) reopens only after a close
    connection.close()
    run = Run.objects.get(id="blip-1")
    assert run.recovery_count == 0 and not Attempt.objects.filter(run_id="blip-1").exists()
    assert time.monotonic() - began < 10, "a dropped connection cost a lease wait"
    assert side_effects("blip-1") == {f"txn-{i}": 1 for i in range(12)}


def test_a_transaction_whose_commit_reply_was_lost_is_settled_not_run_twice(side_effects):
    handle = durable.start(lost_commit_reply, "blip-2", run_id="blip-2")
    assert handle.result(timeout=15) == "booked"
    assert side_effects("blip-2") == {"booked": 1}
    run = Run.objects.get(id="blip-2")
    assert run.recovery_count == 0 and not Attempt.objects.filter(run_id="blip-2").exists()


def test_a_checkpoint_committed_before_its_reply_was_lost_is_recognised(
    transactional_db, settings, monkeypatch
):
    settings.DURABLE_EXECUTOR = "external"
    durable.start(ledger, "blip-3", 1, 0, run_id="blip-3")
    store.claim_run("blip-3", "owner-a", 30, ["faults.ledger"])
    real = _execute._prepared_once
    lost = []

    def commit_then_lose_reply(sql, params):
        rows = real(sql, params)
        if "-- record_step --" in sql and not lost:
            lost.append(rows)
            with connection.cursor() as cursor:  # the reply never arrives: connection dies
                cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return rows

    monkeypatch.setattr(_execute, "_prepared_once", commit_then_lose_reply)
    written = store.record_step(
        run_id="blip-3", executor_id="owner-a", position=0, name="pause", kind="step",
        status="SUCCESS", input="{}", output="0", attempts=1,
        started_at=durable_now(), finished_at=durable_now(), duration_ms=1.0,
    )  # fmt: skip
    assert lost and written, "the committed checkpoint was taken for another owner's"
    assert Run.objects.get(id="blip-3").steps.count() == 1


def test_a_claim_committed_before_its_reply_was_lost_is_taken_up(
    transactional_db, settings, monkeypatch
):
    settings.DURABLE_EXECUTOR = "external"
    durable.start(ledger, "blip-4", 1, 0, run_id="blip-4")
    lost = lose_the_reply_of(monkeypatch, "-- claim_run --")
    claimed = store.claim_run("blip-4", "owner-a", 30, ["faults.ledger"])
    assert lost and claimed is not None, "the committed claim was left to wait out its lease"
    assert claimed.workflow == "faults.ledger" and claimed.input["args"][0] == "blip-4"


def durable_now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_only_connection_errors_are_transient():
    assert db.is_transient(psycopg.OperationalError("connection refused"))
    assert db.is_transient(psycopg.errors.AdminShutdown("terminating connection"))
    assert db.is_transient(psycopg.errors.CannotConnectNow("the database system is starting up"))
    assert not db.is_transient(psycopg.errors.UniqueViolation("duplicate key"))
    assert not db.is_transient(psycopg.errors.DataError("bad value"))
    assert not db.is_transient(ValueError("not a database error"))


def test_nothing_is_retried_inside_an_atomic_block(transactional_db):
    from django.db import transaction

    calls = []

    def failing():
        calls.append(1)
        raise psycopg.OperationalError("connection lost")

    with pytest.raises(psycopg.OperationalError), transaction.atomic():
        db.retrying(failing, what="inside atomic")
    assert calls == [1]


def test_a_prepared_statement_is_not_retried_inside_an_atomic_block(transactional_db, monkeypatch):
    """`_execute_prepared` makes its first try itself; a transient error inside a
    transaction still goes to whoever opened it, unretried."""
    from django.db import transaction

    calls = []

    def failing(sql, params):
        calls.append(1)
        raise psycopg.OperationalError("connection lost")

    monkeypatch.setattr(_execute, "_prepared_once", failing)
    with pytest.raises(psycopg.OperationalError), transaction.atomic():
        _execute._execute_prepared("SELECT 1", {})
    assert calls == [1]


def test_a_prepared_statement_is_retried_after_a_transient_error(transactional_db, monkeypatch):
    real, calls = _execute._prepared_once, []

    def fails_once(sql, params):
        calls.append(1)
        if len(calls) == 1:
            raise psycopg.OperationalError("connection lost")
        return real(sql, params)

    monkeypatch.setattr(_execute, "_prepared_once", fails_once)
    assert _execute._execute_prepared("SELECT 1", {}) == [(1,)]
    assert len(calls) == 2
