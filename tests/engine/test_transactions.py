"""`@durable.transaction` effects and checkpoints commit or roll back together, and a run
started inside a transaction belongs to it."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection, transaction

import durable
from durable.models import Run, Step
from tests.conftest import record_side_effect
from tests.engine.processes import database_url_for_tests
from tests.engine.workflows import Boom, ledger


@durable.transaction(name="write_then_fail")
def write_then_fail(run_id: str) -> None:
    record_side_effect(run_id, "effect")
    raise Boom("after the write")


@durable.workflow(name="tests.txn_fails")
def txn_fails(run_id: str) -> None:
    write_then_fail(run_id)


@durable.transaction(name="write_then_get_cancelled")
def write_then_get_cancelled(run_id: str) -> str:
    record_side_effect(run_id, "effect")
    with psycopg.connect(
        database_url_for_tests().replace("postgres://", "postgresql://"), autocommit=True
    ) as other:
        # taken from this executor (a cancel alone leaves the owner, whose step then keeps
        # its checkpoint; see test_cancel_latency)
        other.execute(
            "UPDATE durable_run SET status = 'CANCELLED', executor_id = 'another' WHERE id = %s",
            [run_id],
        )
    return "never recorded"


@durable.workflow(name="tests.txn_cancelled")
def txn_cancelled(run_id: str) -> str:
    return write_then_get_cancelled(run_id)


@durable.transaction(name="write_ok")
def write_ok(run_id: str) -> str:
    record_side_effect(run_id, "effect")
    return "ok"


@durable.workflow(name="tests.txn_ok")
def txn_ok(run_id: str) -> str:
    return write_ok(run_id)


def test_a_transaction_steps_effect_and_checkpoint_commit_together(side_effects):
    assert durable.run(txn_ok, "t-ok", run_id="t-ok") == "ok"
    assert side_effects("t-ok") == {"effect": 1}
    assert Step.objects.get(run_id="t-ok").kind == "transaction"


def test_a_failing_transaction_step_rolls_back_its_effect(side_effects):
    with pytest.raises(Boom):
        durable.run(txn_fails, "t-fail", run_id="t-fail")
    assert side_effects("t-fail") == {}
    assert Step.objects.get(run_id="t-fail").status == "ERROR"


def test_an_effect_whose_checkpoint_is_refused_rolls_back(side_effects):
    handle = durable.start(txn_cancelled, "t-cancel", run_id="t-cancel")
    with pytest.raises(durable.errors.RunCancelledError):
        handle.result(timeout=10)
    assert side_effects("t-cancel") == {}
    assert not Step.objects.filter(run_id="t-cancel").exists()


def test_a_run_started_in_a_rolled_back_transaction_never_existed(side_effects):
    with pytest.raises(RuntimeError), transaction.atomic():
        durable.start(ledger, "t-rolled", ["x"], run_id="t-rolled")
        raise RuntimeError("caller rolls back")
    assert not Run.objects.filter(id="t-rolled").exists()
    assert side_effects("t-rolled") == {}


def test_a_run_started_in_a_transaction_is_dispatched_after_commit(side_effects):
    with transaction.atomic():
        handle = durable.start(ledger, "t-commit", ["x"], run_id="t-commit")
        assert connection.in_atomic_block
        assert handle.status() == "ENQUEUED"
    assert handle.result(timeout=10) == ["x"]
